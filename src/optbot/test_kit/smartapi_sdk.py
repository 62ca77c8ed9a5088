"""Import the official smartapi-python SDK for fidelity tests without its import-time ipify lookup."""

from __future__ import annotations

import importlib
from types import ModuleType

import requests


def _refuse_network(*args: object, **kwargs: object) -> requests.Response:
    raise requests.ConnectionError("network disabled in tests (SmartApi import-time ipify lookup)")


def import_sdk_module(name: str) -> ModuleType:
    """Import `SmartApi.<name>` with `requests.get` refusing, so the class-body ipify call fails fast."""
    original = requests.get
    requests.get = _refuse_network
    try:
        return importlib.import_module(f"SmartApi.{name}")
    finally:
        requests.get = original
