"""What a search maximises (spec §11.5): a named metric of a backtest, or a user's expression of them.

Metrics come from the backtest's own report (net of charges). An expression such as
`net_pnl / max(max_drawdown_rupees, 1000)` or `sharpe * (trades >= 20)` is evaluated over the metric
names only: numbers, + - * / ** %, comparisons, and min / max / abs / sqrt / log — nothing else runs.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optbot.analytics.performance import performance_report
from optbot.core.errors import UserError

NAMED_OBJECTIVES = ("net_pnl", "sharpe", "sortino", "calmar", "profit_factor")


@dataclass(frozen=True, slots=True)
class BacktestMetrics:
    """The figures objectives and constraints are written in (None where undefined, e.g. no trades)."""

    net_pnl: float
    charges: float
    trades: int
    win_rate: float | None
    profit_factor: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float  # fraction of the running peak
    max_drawdown_rupees: float
    total_return: float
    sessions: int

    def as_dict(self) -> dict[str, float | int | None]:
        return {name: getattr(self, name) for name in self.__slots__}


def metrics_from_equity(
    equity: Sequence[float], trade_pnls: Sequence[float], charges: float
) -> BacktestMetrics:
    """Metrics of one backtest from its end-of-day equity values and closed trades."""
    values = list(equity) if len(equity) >= 2 else [*equity, *equity][:2]
    peak, worst, worst_fraction = values[0], 0.0, 0.0
    for value in values:
        peak = max(peak, value)
        worst = max(worst, peak - value)
        worst_fraction = max(worst_fraction, (peak - value) / peak if peak > 0 else 1.0)
    pnls = list(trade_pnls)
    gains, losses = sum(p for p in pnls if p > 0), -sum(p for p in pnls if p < 0)
    if min(values) <= 0:  # the account was wiped out: ratios of returns are undefined
        return BacktestMetrics(
            net_pnl=round(values[-1] - values[0], 2),
            charges=round(charges, 2),
            trades=len(pnls),
            win_rate=sum(1 for p in pnls if p > 0) / len(pnls) if pnls else None,
            profit_factor=gains / losses if losses > 0 else None,
            sharpe=None,
            sortino=None,
            calmar=None,
            max_drawdown=min(worst_fraction, 1.0),
            max_drawdown_rupees=round(worst, 2),
            total_return=values[-1] / values[0] - 1.0,
            sessions=len(equity) - 1 if len(equity) >= 2 else 0,
        )
    report = performance_report(values, pnls)
    return BacktestMetrics(
        net_pnl=round(values[-1] - values[0], 2),
        charges=round(charges, 2),
        trades=len(pnls),
        win_rate=report.win_rate,
        profit_factor=report.profit_factor,
        sharpe=report.sharpe,
        sortino=report.sortino,
        calmar=report.calmar,
        max_drawdown=report.drawdown.max_drawdown,
        max_drawdown_rupees=round(worst, 2),
        total_return=report.total_return,
        sessions=len(equity) - 1 if len(equity) >= 2 else 0,
    )


_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "sqrt": math.sqrt,
    "log": math.log,
}


_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.Call,
    ast.Name,
    ast.Constant,
    ast.Load,
    *(_BINARY),
    *(_COMPARE),
    ast.USub,
    ast.UAdd,
)


class Objective:
    """A named metric or an expression; `value(metrics)` is what the search maximises."""

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        if not self.text:
            raise UserError("--objective is empty")
        try:
            self._tree = ast.parse(self.text, mode="eval")
        except SyntaxError as exc:
            raise UserError(f"--objective {text!r}: not a valid expression ({exc.msg})") from None
        allowed = set(BacktestMetrics.__slots__)
        for node in ast.walk(self._tree):
            if not isinstance(node, _ALLOWED_NODES):
                raise UserError(f"--objective {text!r}: {type(node).__name__} is not allowed in an objective")
            if isinstance(node, ast.Call) and not (
                isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and not node.keywords
            ):
                raise UserError(f"--objective {text!r}: only {', '.join(_FUNCTIONS)} may be called")
            if isinstance(node, ast.Name) and node.id not in allowed and node.id not in _FUNCTIONS:
                raise UserError(
                    f"--objective {text!r}: unknown name {node.id!r} (metrics: {', '.join(sorted(allowed))})"
                )

    def value(self, metrics: BacktestMetrics) -> float:
        """The objective's value; an undefined metric (None) or a maths error counts as -inf."""
        try:
            result = _evaluate(self._tree.body, metrics.as_dict())
        except (ArithmeticError, TypeError, ValueError):
            return -math.inf
        return float(result) if result is not None and math.isfinite(float(result)) else -math.inf


def _evaluate(node: ast.AST, names: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.Name) and node.id in names:
        value = names[node.id]
        if value is None:
            raise ValueError(f"{node.id} is undefined")
        return value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_evaluate(node.left, names), _evaluate(node.right, names))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _evaluate(node.operand, names)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        left, right = _evaluate(node.left, names), _evaluate(node.comparators[0], names)
        return float(_COMPARE[type(node.ops[0])](left, right))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_evaluate(arg, names) for arg in node.args))
    raise ValueError(f"not allowed in an objective: {ast.dump(node)[:60]}")


@dataclass(frozen=True, slots=True)
class Constraints:
    """Trials that break these are kept but marked infeasible (they never become 'best')."""

    min_trades: int = 0
    max_drawdown: float | None = None  # fraction, 0.2 = 20 %

    def violations(self, metrics: BacktestMetrics) -> list[str]:
        found = []
        if metrics.trades < self.min_trades:
            found.append(f"{metrics.trades} trades < {self.min_trades}")
        if self.max_drawdown is not None and metrics.max_drawdown > self.max_drawdown:
            found.append(f"drawdown {metrics.max_drawdown:.2%} > {self.max_drawdown:.2%}")
        return found
