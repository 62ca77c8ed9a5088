"""Package re-exports imported on first use (PEP 562), so importing one module of a package (a CLI
module, say) does not load everything the package's `__init__` re-exports (scipy, pandas, ...)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, exports: Mapping[str, tuple[str, ...]], submodules: tuple[str, ...] = ()
) -> Callable[[str], object]:
    """A module-level `__getattr__` for `package`: `exports` maps each submodule (relative to the
    package) to the names it provides, `submodules` are re-exported modules themselves; a name is
    imported when first read and then kept in the package's namespace, so the next read costs
    nothing. The package declares the same imports under `TYPE_CHECKING` for the type checker."""
    owners = {name: f"{package}.{module}" for module, names in exports.items() for name in names}
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> object:
        if name in submodules:
            value: object = importlib.import_module(f"{package}.{name}")
            namespace[name] = value
            return value
        owner = owners.get(name)
        if owner is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(owner), name)
        namespace[name] = value
        return value

    return __getattr__
