"""Layers point one way: no module imports a package above its own, and only the CLI imports a CLI module.

Every module under src/optbot is parsed (an AST scan, not a grep), and every import in it counts —
top-level, inside functions and under `TYPE_CHECKING` alike, because each one is a dependency that
ties the two packages together. Each module belongs to one unit of `LAYERS` (the longest package
prefix that names it), except CLI modules (`optbot.cli` and any module named `cli` or `cli_*`), which
form the `cli` layer. A unit may import only units in layers below its own; units in the same layer
are independent of each other. The README's architecture table is the same table (checked below).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "optbot"
README = ROOT / "README.md"

#: Bottom to top. Each row is one layer of independent units (packages, or a sub-package that is an
#: adapter on its own). A unit imports only units in rows above it in this listing (lower layers).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("optbot.core",),
    ("optbot.config",),
    ("optbot.log", "optbot.calendar", "optbot.indicators", "optbot.charges"),
    ("optbot.persistence", "optbot.broker"),
    ("optbot.portfolio", "optbot.instruments", "optbot.risk"),
    ("optbot.data",),
    ("optbot.analytics", "optbot.broker.paper"),
    ("optbot.strategy", "optbot.execution", "optbot.sim", "optbot.broker.angelone"),
    ("optbot.engine",),
    ("optbot.ops",),
    ("optbot.backtest",),
    ("optbot.research",),
    ("optbot.test_kit",),
    ("cli",),
)
#: Below-the-line rules the order alone would allow: strategies and risk decide without touching a
#: venue, the order manager or storage (ARCHITECTURE.md), so they stay testable and mode-blind.
NEVER_IMPORTS: dict[str, tuple[str, ...]] = {
    "optbot.strategy": ("optbot.broker", "optbot.execution", "optbot.persistence"),
    "optbot.risk": ("optbot.broker", "optbot.execution", "optbot.persistence"),
}
CLI = "cli"
ROOT_MODULE = "optbot"
LAYER_OF = {unit: index for index, row in enumerate(LAYERS) for unit in row}


@dataclass(frozen=True, slots=True)
class Edge:
    """One import statement from one module of optbot to another."""

    path: Path
    line: int
    importer: str
    imported: str


@dataclass(frozen=True, slots=True)
class BackEdge:
    edge: Edge
    importer_unit: str
    imported_unit: str

    def __str__(self) -> str:
        where = f"{self.edge.path.relative_to(ROOT)}:{self.edge.line}"
        if LAYER_OF[self.imported_unit] < LAYER_OF[self.importer_unit]:
            rule = f"{self.importer_unit} never imports {self.imported_unit}"
            return f"{where} imports {self.edge.imported}: {rule}"
        importer = f"{self.importer_unit} (layer {LAYER_OF[self.importer_unit]})"
        imported = f"{self.imported_unit} (layer {LAYER_OF[self.imported_unit]})"
        return f"{where} imports {self.edge.imported}: {importer} may not import {imported}"


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules(package: Path = PACKAGE, src: Path = SRC) -> dict[str, Path]:
    return {module_name(path, src): path for path in sorted(package.rglob("*.py"))}


def imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """Absolute names an import statement loads (`from a import b` may load the module `a.b`)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base]) if base else ".".join(anchor)
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def import_edges(modules: dict[str, Path]) -> list[Edge]:
    """Every optbot-to-optbot import of every module; `from a import b` counts `a.b` when it is a module."""
    edges: list[Edge] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names = imported_names(node, module, path.name == "__init__.py")
            if isinstance(node, ast.ImportFrom):
                submodules = [name for name in names[1:] if name in modules]
                names = submodules or names[:1]
            for name in names:
                if name == ROOT_MODULE or name.startswith(ROOT_MODULE + "."):
                    edges.append(Edge(path, node.lineno, module, name))
    return edges


def is_cli_module(module: str) -> bool:
    parts = module.split(".")
    return parts[:2] == [ROOT_MODULE, CLI] or parts[-1] == CLI or parts[-1].startswith(CLI + "_")


def unit_of(module: str) -> str | None:
    """The layer unit a module belongs to: CLI modules form one unit; otherwise the longest prefix."""
    if is_cli_module(module):
        return CLI
    matches = [unit for unit in LAYER_OF if unit != CLI and (module == unit or module.startswith(unit + "."))]
    return max(matches, key=len) if matches else None


def back_edges(edges: list[Edge]) -> list[BackEdge]:
    found: list[BackEdge] = []
    for edge in edges:
        importer, imported = unit_of(edge.importer), unit_of(edge.imported)
        if importer is None or imported is None or importer == imported:
            continue
        forbidden = NEVER_IMPORTS.get(importer, ())
        if LAYER_OF[imported] >= LAYER_OF[importer] or any(
            imported == unit or imported.startswith(unit + ".") for unit in forbidden
        ):
            found.append(BackEdge(edge, importer, imported))
    return found


def test_every_module_belongs_to_a_layer() -> None:
    unplaced = [module for module in all_modules() if module != ROOT_MODULE and unit_of(module) is None]
    assert unplaced == [], f"modules in no layer (add their package to LAYERS): {unplaced}"


def test_no_module_imports_a_layer_above_its_own() -> None:
    offenders = [str(back_edge) for back_edge in back_edges(import_edges(all_modules()))]
    assert offenders == [], "imports against the layer order:\n" + "\n".join(offenders)


def test_readme_architecture_table_is_the_layer_table() -> None:
    """README lists the layers top-down in a table whose first column is the layer's units."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if re.match(r"^\| \d+ \|", line)]
    documented = []
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        documented.append((int(cells[0]), tuple(re.findall(r"`([a-z_.]+)`", cells[1]))))
    expected = [(index, row) for index, row in reversed(list(enumerate(LAYERS)))]
    assert documented == expected


# ---------------------------------------------------------------------------------- the scanner itself
@pytest.fixture
def sample_tree(tmp_path: Path) -> Path:
    files = {
        "optbot/__init__.py": "",
        "optbot/core/__init__.py": "",
        "optbot/core/clock.py": "def f():\n    from optbot.broker import base\n",
        "optbot/broker/__init__.py": "",
        "optbot/broker/base.py": "from ..core import clock\nfrom optbot.cli.common import fail\n",
        "optbot/broker/paper/__init__.py": "",
        "optbot/broker/paper/venue.py": "import optbot.execution.charges\nfrom . import helper\n",
        "optbot/broker/paper/helper.py": "",
        "optbot/execution/__init__.py": "",
        "optbot/execution/charges.py": "",
        "optbot/execution/cli.py": "from optbot.broker.paper import venue\n",
        "optbot/cli/__init__.py": "",
        "optbot/cli/common.py": "from optbot.execution import cli\n",
    }
    for name, source in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return tmp_path


def test_scanner_names_module_and_line_of_each_back_edge(sample_tree: Path) -> None:
    modules = all_modules(sample_tree / "optbot", sample_tree)
    found = {
        (edge.edge.importer, edge.edge.line, edge.edge.imported, edge.imported_unit)
        for edge in back_edges(import_edges(modules))
    }
    assert found == {
        ("optbot.core.clock", 2, "optbot.broker.base", "optbot.broker"),  # inside a function
        ("optbot.broker.base", 2, "optbot.cli.common", CLI),  # a CLI module from a package
        ("optbot.broker.paper.venue", 1, "optbot.execution.charges", "optbot.execution"),
    }


def test_strategy_and_risk_never_import_a_venue_the_order_manager_or_storage() -> None:
    edge = Edge(PACKAGE / "strategy" / "x.py", 3, "optbot.strategy.x", "optbot.broker.paper.broker")
    assert [str(found) for found in back_edges([edge])] == [
        "src/optbot/strategy/x.py:3 imports optbot.broker.paper.broker: optbot.strategy never imports "
        "optbot.broker.paper"
    ]
    allowed = Edge(PACKAGE / "strategy" / "x.py", 4, "optbot.strategy.x", "optbot.instruments.chain")
    assert back_edges([allowed]) == []


def test_scanner_resolves_relative_and_submodule_imports(sample_tree: Path) -> None:
    modules = all_modules(sample_tree / "optbot", sample_tree)
    imported = {(edge.importer, edge.imported) for edge in import_edges(modules)}
    assert ("optbot.broker.base", "optbot.core.clock") in imported
    assert ("optbot.broker.paper.venue", "optbot.broker.paper.helper") in imported
    assert ("optbot.execution.cli", "optbot.broker.paper.venue") in imported
    assert unit_of("optbot.execution.cli") == CLI
    assert unit_of("optbot.research.cli_checks") == CLI
    assert unit_of("optbot.broker.paper.venue") == "optbot.broker.paper"
