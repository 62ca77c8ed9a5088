from __future__ import annotations

import os

import pytest

from optbot.config.settings import ENV_PREFIX


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Config tests must not see the developer's OPTBOT__* or OPTBOT_CONFIG variables."""
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX) or name == "OPTBOT_CONFIG":
            monkeypatch.delenv(name)
