"""Studies the bot runs by itself in data-management mode (spec §1.5, §10.6).

On a non-trading day each configured study (`[[research.studies]]`) runs a walk-forward over the last
`lookback_months` up to yesterday, writes its tearsheet, and turns the out-of-sample result into a
rotation verdict: a strategy whose out-of-sample P&L is negative, or whose walk-forward efficiency fell
below `research.rotation_min_walk_forward_efficiency`, is benched until a later walk-forward clears it.
In-sample results never bench or clear anything. Each study runs at most once per day; one failing
study is reported and the others still run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from optbot.config import Settings
from optbot.config.sections.research import ScheduledStudy
from optbot.core.errors import UserError
from optbot.research.evaluate import BacktestEvaluator, BacktestSegments
from optbot.research.objectives import Constraints, Objective
from optbot.research.optimise import StudySpec
from optbot.research.tearsheet import write_tearsheet
from optbot.research.walkforward import (
    SegmentRunner,
    WalkForwardResult,
    add_months,
    plan_windows,
    run_walk_forward,
    walk_forward_tearsheet,
)
from optbot.strategy.registry import resolve
from optbot.strategy.rotation import ROTATION_FILE, RotationVerdict, write_verdicts


@dataclass(frozen=True, slots=True)
class ScheduledOutcome:
    study: str
    strategy: str
    tearsheet: Path | None
    verdict: RotationVerdict | None
    error: str | None = None

    def summary(self) -> str:
        if self.error is not None:
            return f"study {self.study} ({self.strategy}) failed: {self.error}"
        assert self.verdict is not None
        state = f"BENCHED ({self.verdict.reason})" if self.verdict.benched else "keeps trading"
        efficiency = self.verdict.walk_forward_efficiency
        wfe = "n/a" if efficiency is None else f"{efficiency:.2f}"
        net, sessions = self.verdict.out_of_sample_net_pnl, self.verdict.out_of_sample_sessions
        return (
            f"study {self.study}: {self.strategy} out-of-sample net ₹{net:,.2f} over {sessions} session(s), "
            f"WFE {wfe} → {state}; tearsheet {self.tearsheet}"
        )


def verdict_from(
    strategy: str, result: WalkForwardResult, today: date, settings: Settings
) -> RotationVerdict:
    research = settings.research
    sessions = result.out_of_sample.sessions
    reasons = []
    if sessions >= research.rotation_min_out_of_sample_sessions:
        if result.out_of_sample.net_pnl < 0:
            reasons.append(f"out-of-sample net ₹{result.out_of_sample.net_pnl:,.2f} over {sessions} sessions")
        efficiency = result.efficiency
        floor = research.rotation_min_walk_forward_efficiency
        if efficiency is not None and efficiency < floor:
            reasons.append(f"walk-forward efficiency {efficiency:.2f} < {floor:g}")
    return RotationVerdict(
        strategy=strategy,
        benched=bool(reasons),
        reason="; ".join(reasons) if reasons else "out-of-sample results hold up",
        as_of=today.isoformat(),
        out_of_sample_net_pnl=result.out_of_sample.net_pnl,
        walk_forward_efficiency=result.efficiency,
        out_of_sample_sessions=sessions,
    )


def run_study(
    settings: Settings, study: ScheduledStudy, today: date, run: SegmentRunner | None = None
) -> ScheduledOutcome:
    strategy_name = resolve(study.strategy).name or study.strategy
    end = today - timedelta(days=1)
    start = add_months(end, -study.lookback_months) + timedelta(days=1)
    folder = settings.paths.resolve(settings.paths.reports_dir) / "research" / f"{study.name}-{today}"
    folder.mkdir(parents=True, exist_ok=True)
    spec = StudySpec(
        study_name=f"{study.name}-{today}",
        storage=study.storage or f"sqlite:///{folder / 'studies.db'}",
        start=start,
        end=end,
        trials=study.trials,
        tunables=tuple(resolve(study.strategy).tunables),
        objective=Objective(study.objective),
        constraints=Constraints(min_trades=study.min_trades),
        pruner="none",
        seed=settings.research.monte_carlo_seed,
    )
    windows = plan_windows(
        start,
        end,
        study.in_sample_months,
        study.out_of_sample_months,
        study.out_of_sample_months,
        anchored=False,
    )
    result = run_walk_forward(
        settings, spec, windows, run or BacktestSegments(BacktestEvaluator(study.strategy))
    )
    verdict = verdict_from(strategy_name, result, today, settings)
    sheet = walk_forward_tearsheet(
        result,
        f"Scheduled walk-forward {study.name} ({strategy_name})",
        f"{start} to {end}, run {today}: out-of-sample equity only · verdict: "
        f"{'benched — ' + verdict.reason if verdict.benched else verdict.reason}",
        settings.backtest.initial_capital,
    )
    path = write_tearsheet(sheet, folder / "tearsheet.html")
    return ScheduledOutcome(study.name, strategy_name, path, verdict)


def run_scheduled_studies(
    settings: Settings,
    today: date,
    notify: Callable[[str, str], None] | None = None,
    run: SegmentRunner | None = None,
) -> list[ScheduledOutcome]:
    """Run each configured study once for `today`; write verdicts; notify one summary line per study."""
    outcomes: list[ScheduledOutcome] = []
    for study in settings.research.studies:
        try:
            outcome = run_study(settings, study, today, run)
        except (UserError, ValueError, OSError) as exc:
            outcome = ScheduledOutcome(study.name, study.strategy, None, None, error=str(exc))
        outcomes.append(outcome)
        if notify is not None:
            notify(f"optbot research: {study.name}", outcome.summary())
    verdicts = {o.verdict.strategy: o.verdict for o in outcomes if o.verdict is not None}
    if verdicts:
        write_verdicts(settings.paths.resolve(settings.paths.state_dir) / ROTATION_FILE, verdicts)
    return outcomes
