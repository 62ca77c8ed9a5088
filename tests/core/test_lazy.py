"""Package re-exports loaded on first use (optbot.core.lazy) resolve to the submodules' own objects."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from optbot.core.lazy import lazy_exports

LAZY_PACKAGES = ("optbot.analytics", "optbot.data", "optbot.strategy", "optbot.broker.angelone")


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_re_export_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        assert value is not None
        assert module.__dict__[name] is value  # kept: the next read is a plain global


def test_an_unknown_name_is_an_attribute_error() -> None:
    module = importlib.import_module("optbot.data")
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018
    assert not hasattr(module, "no_such_name")


def test_a_re_exported_submodule_is_the_module() -> None:
    analytics = importlib.import_module("optbot.analytics")
    assert analytics.performance is importlib.import_module("optbot.analytics.performance")


def test_lazy_exports_map_names_to_their_submodules() -> None:
    getter = lazy_exports("optbot.core", {"clock": ("SimClock",)}, submodules=("enums",))
    from optbot.core import enums
    from optbot.core.clock import SimClock

    assert getter("SimClock") is SimClock
    assert getter("enums") is enums
    with pytest.raises(AttributeError):
        getter("LiveClock")


def test_importing_a_package_module_does_not_import_its_siblings() -> None:
    """The point of it: `optbot.analytics.cli` alone leaves scipy (analytics.performance) unloaded."""
    code = (
        "import sys, optbot.analytics.cli, optbot.strategy.cli, optbot.data.cli\n"
        "print(sorted(m for m in ('scipy', 'pandas', 'pyarrow') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_function_named_like_its_submodule_stays_the_function() -> None:
    importlib.import_module("optbot.strategy.categorise")
    from optbot.strategy import categorise

    assert callable(categorise) and categorise.__module__ == "optbot.strategy.categorise"
