"""Nothing in optbot reads the wall clock except `LiveClock` in core/clock.py.

An AST scan (not a grep): it follows import aliases (`import time as _t`, `from datetime import
datetime as dt`, `import datetime as d`) and catches asyncio loop time (`loop.time()`,
`asyncio.get_running_loop().time()`), which is wall-derived monotonic time too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "optbot"
ALLOWED_FILE = SRC / "core" / "clock.py"
ALLOWED_CLASS = "LiveClock"

#: (module, attribute) pairs that read the wall clock when called.
FORBIDDEN_MODULE_FUNCTIONS = {
    ("time", name)
    for name in (
        "time",
        "time_ns",
        "monotonic",
        "monotonic_ns",
        "perf_counter",
        "perf_counter_ns",
        "localtime",
        "gmtime",
        "ctime",
    )
}
#: These read the clock only when called without an argument.
ARGUMENT_OPTIONAL = {"localtime", "gmtime", "ctime"}
ALWAYS_READS_CLOCK = {name for _, name in FORBIDDEN_MODULE_FUNCTIONS} - ARGUMENT_OPTIONAL
#: (class, method) pairs that read the wall clock when called.
FORBIDDEN_CLASS_METHODS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
}
LOOP_FACTORIES = {"get_running_loop", "get_event_loop", "new_event_loop"}


@dataclass(frozen=True, slots=True)
class Violation:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(SRC.parent.parent)}:{self.line}: {self.what}"


class WallClockFinder(ast.NodeVisitor):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.module_aliases: dict[str, str] = {}  # local name -> module ("time" / "datetime")
        self.class_aliases: dict[str, str] = {}  # local name -> "datetime" / "date"
        self.function_aliases: dict[str, str] = {}  # local name -> "time.time" etc.
        self.class_stack: list[str] = []
        self.violations: list[Violation] = []

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name in ("time", "datetime"):
                self.module_aliases[alias.asname or alias.name] = alias.name
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            local = alias.asname or alias.name
            if node.module == "datetime" and alias.name in ("datetime", "date"):
                self.class_aliases[local] = alias.name
            if node.module == "time" and ("time", alias.name) in FORBIDDEN_MODULE_FUNCTIONS:
                self.function_aliases[local] = f"time.{alias.name}"
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.class_stack.append(node.name)
        self.generic_visit(node)
        self.class_stack.pop()

    def _allowed(self) -> bool:
        return self.path == ALLOWED_FILE and ALLOWED_CLASS in self.class_stack

    def _report(self, node: ast.AST, what: str) -> None:
        if not self._allowed():
            self.violations.append(Violation(self.path, getattr(node, "lineno", 0), what))

    def _class_of(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return self.class_aliases.get(node.id)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if self.module_aliases.get(node.value.id) == "datetime" and node.attr in ("datetime", "date"):
                return node.attr
        return None

    @staticmethod
    def _is_loop(node: ast.expr) -> bool:
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            return name in LOOP_FACTORIES
        if isinstance(node, ast.Name):
            return "loop" in node.id.lower()
        if isinstance(node, ast.Attribute):
            return "loop" in node.attr.lower()
        return False

    def visit_Attribute(self, node: ast.Attribute) -> None:
        # References count, not just calls: `default_factory=datetime.now` reads the clock later.
        if isinstance(node.ctx, ast.Load):
            receiver = node.value
            if isinstance(receiver, ast.Name) and self.module_aliases.get(receiver.id) == "time":
                if node.attr in ALWAYS_READS_CLOCK:
                    self._report(node, f"time.{node.attr}")
            owner = self._class_of(receiver)
            if owner is not None and (owner, node.attr) in FORBIDDEN_CLASS_METHODS:
                self._report(node, f"{owner}.{node.attr}")
            if node.attr == "time" and self._is_loop(receiver):
                self._report(node, "event loop .time")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        alias = self.function_aliases.get(node.id)
        if isinstance(node.ctx, ast.Load) and alias is not None and alias.split(".")[1] in ALWAYS_READS_CLOCK:
            self._report(node, alias)

    def visit_Call(self, node: ast.Call) -> None:
        # localtime()/gmtime()/ctime() read the clock only when called without an argument.
        func = node.func
        name: str | None = None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if self.module_aliases.get(func.value.id) == "time":
                name = func.attr
        elif isinstance(func, ast.Name) and func.id in self.function_aliases:
            name = self.function_aliases[func.id].split(".")[1]
        if name in ARGUMENT_OPTIONAL and not node.args:
            self._report(node, f"time.{name}()")
        self.generic_visit(node)


def scan_source(path: Path, source: str) -> list[Violation]:
    finder = WallClockFinder(path)
    finder.visit(ast.parse(source, filename=str(path)))
    return finder.violations


def test_no_wall_clock_reads_outside_live_clock() -> None:
    violations = [
        violation
        for path in sorted(SRC.rglob("*.py"))
        for violation in scan_source(path, path.read_text(encoding="utf-8"))
    ]
    assert not violations, "wall-clock reads outside LiveClock (take a Clock instead):\n" + "\n".join(
        str(violation) for violation in violations
    )


def test_live_clock_itself_is_allowed() -> None:
    assert scan_source(ALLOWED_FILE, ALLOWED_FILE.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import time\nx = time.time()",
        "import time as _t\nx = _t.monotonic()",
        "from time import monotonic\nx = monotonic()",
        "from time import perf_counter as pc\nx = pc()",
        "from datetime import datetime\nx = datetime.now()",
        "from datetime import datetime as dt\nx = dt.utcnow()",
        "import datetime\nx = datetime.datetime.now()",
        "import datetime as d\nx = d.date.today()",
        "from datetime import date\nx = date.today()",
        "import asyncio\nx = asyncio.get_running_loop().time()",
        "def f(loop):\n    return loop.time()",
        "class C:\n    def f(self):\n        return self._loop.time()",
        "from datetime import datetime\nf = field(default_factory=datetime.now)",
        "import time\nclock_function = time.monotonic",
        "from time import time as wall\nreader = wall",
        "import time\nx = time.localtime()",
    ],
)
def test_scanner_catches(snippet: str) -> None:
    assert len(scan_source(SRC / "somewhere.py", snippet)) == 1


@pytest.mark.parametrize(
    "snippet",
    [
        "from datetime import datetime, UTC\nx = datetime(2024, 1, 1, tzinfo=UTC)",
        "from datetime import datetime\nx = datetime.fromisoformat('2024-01-01T00:00:00+00:00')",
        "def f(clock):\n    return clock.now_utc()",
        "import time\nx = time.strftime('%H')",
        "import time\nx = time.gmtime(0)",
        "from time import gmtime\nx = gmtime(12)",
    ],
)
def test_scanner_allows(snippet: str) -> None:
    assert scan_source(SRC / "elsewhere.py", snippet) == []


def test_scanner_allows_live_clock_only_in_core_clock() -> None:
    snippet = "import time\nclass LiveClock:\n    def f(self):\n        return time.time()"
    assert scan_source(ALLOWED_FILE, snippet) == []
    assert len(scan_source(SRC / "other.py", snippet)) == 1
