"""Strategy and risk never import the broker, execution or persistence packages (ARCHITECTURE rule)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "optbot"
FORBIDDEN = ("optbot.broker", "optbot.execution", "optbot.persistence")


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("package", ["risk", "strategy"])
def test_package_does_not_import_forbidden_layers(package: str) -> None:
    files = sorted((SRC / package).rglob("*.py"))
    if package == "risk":
        assert files, "risk package missing"
    offenders = [
        f"{path.relative_to(SRC)} imports {name}"
        for path in files
        for name in imported_modules(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    ]
    assert offenders == []


def test_scanner_detects_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from optbot.broker.base import Broker\nimport optbot.execution.manager\n")
    assert imported_modules(sample) == ["optbot.broker.base", "optbot.execution.manager"]
