"""`optbot data calibrate`: fit the synthetic option model to real option data and score it.

Its own module so that `optbot greeks | iv | price` (the analytics CLI) do not load the data commands,
and `optbot data` loads this one with them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from optbot.analytics.cli import DEFAULT_DATA_ROOT
from optbot.cli.common import data_root_option, fail, parse_date_option, settings_from
from optbot.core.errors import UserError
from optbot.core.output_path import output_target
from optbot.data.cli import data_app

if TYPE_CHECKING:
    from optbot.analytics.calibration import CalibrationResult
    from optbot.analytics.calibration_errors import ErrorRow


def calibrate_command(
    ctx: typer.Context,
    data: Path = typer.Option(
        DEFAULT_DATA_ROOT,
        "--data",
        callback=data_root_option,
        help="Folder of real option data (data/sample layout)",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Write the calibration TOML here (atomically); a folder gets calibration.toml",
    ),
    sample_minutes: int = typer.Option(
        15, "--sample-minutes", min=1, max=375, help="Minute-bar sampling step"
    ),
    min_volume: float = typer.Option(500.0, "--min-volume", min=0, help="EOD rows need this traded volume"),
    min_otm_premium: float | None = typer.Option(
        None,
        "--min-otm-premium",
        min=0,
        help="OTM quotes below this premium (Rs) are not fitted or scored "
        "(default: analytics.calibration_min_otm_premium)",
    ),
    since: str | None = typer.Option(
        None, "--since", help="Fit and score only data from this day on (YYYY-MM-DD; default: all)"
    ),
    check: bool = typer.Option(
        False,
        "--check",
        help="Fit nothing: print the error table of the active calibration "
        "(analytics.calibration_file, else the packaged one) on --data",
    ),
) -> None:
    """Fit the synthetic option model to the real option data under --data and print the fit and its
    error table against real premiums (out of sample, other period, in sample). Point
    `analytics.calibration_file` at the written file to use it; --check scores a calibration on data."""
    if not data.is_dir():
        fail(f"--data {data} is not a folder")
    if check and out is not None:
        fail("--check fits nothing and writes nothing: drop --out")
    try:  # before the fit: a typo in the folder is refused, not created, and not after a long fit
        out = output_target(out, out, (".toml",)).path("calibration", ".toml") if out is not None else None
    except UserError as exc:
        fail(str(exc))
    settings = settings_from(ctx).analytics
    from optbot.analytics.calibration import Calibrator, FitOptions
    from optbot.analytics.synthetic_params import load_calibration, render_calibration
    from optbot.calendar import get_calendar
    from optbot.core.atomic import atomic_write_text

    try:
        first_day = parse_date_option("--since", since) if since is not None else None
    except UserError as exc:
        fail(str(exc))
    options = FitOptions(
        first_day=first_day,
        sample_every_minutes=sample_minutes,
        min_eod_volume=min_volume,
        default_carry=settings.calibration_default_carry,
        min_otm_premium=(
            min_otm_premium if min_otm_premium is not None else settings.calibration_min_otm_premium
        ),
    )
    calibrator = Calibrator(get_calendar(), options)
    try:
        if check:
            calibration = settings.calibration_file
            params = load_calibration(calibration)
            typer.echo(f"calibration: {calibration or 'packaged'}; data: {data}")
            typer.echo(f"left out: {calibrator.exclusions()}")
            typer.echo(_error_table(calibrator.check(params, data)))
            return
        result = calibrator.calibrate(data)
    except (ValueError, UserError) as exc:
        fail(str(exc))
    _print_fit(result)
    if out is not None:
        atomic_write_text(out, render_calibration(result.params))
        typer.echo(f"wrote {out}")


def _print_fit(result: CalibrationResult) -> None:
    params = result.params
    typer.echo(
        f"chain observations {result.chains}, spread observations {result.spreads}; "
        f"nights weigh {params.time.overnight_weight:.3f} session, "
        f"closed days {params.time.closed_day_weight:.3f}; spread {params.spread.time_value_fraction:.4f} "
        f"x time value + {params.spread.intrinsic_fraction:.4f} x intrinsic"
    )
    for name, body in sorted(params.underlyings.items()):
        levels = ", ".join(
            f"{level.atm_vol_per_vix:.3f} x VIX (term slope {level.term_slope:+.3f}; "
            f"x exp(-{level.return_sensitivity:.2f} x last week's return); "
            f"{level.start}..{level.end}, n={level.observations})"
            for level in body.levels
        )
        smile = body.smile
        pairs = zip(smile.knots, smile.values, strict=True)
        shape = " ".join(f"{knot:+g}:{value:.3f}" for knot, value in pairs)
        typer.echo(
            f"{name:10} carry {body.carry:+.4f}  ATM vol {levels}\n"
            f"{'':10} smile IV/ATM at z {shape} (at {smile.reference_sessions:g} sessions; put side "
            f"x (sessions/{smile.reference_sessions:g})^{smile.put_term:+.3f}, call side "
            f"^{smile.call_term:+.3f}, call side + {smile.call_lift_per_return:.2f} x last week's "
            f"fall from 1 SD; n={smile.observations})"
        )
    for note in result.skipped:
        typer.echo(f"note: {note}")
    typer.echo(f"left out: {params.provenance.get('excluded', '-')}")
    typer.echo(_error_table(result.errors))


def _error_table(rows: tuple[ErrorRow, ...]) -> str:
    header = (
        f"{'evaluation':14} {'segment':50} {'n':>5} {'med|e|%':>8} {'p90|e|%':>8} {'bias%':>7}  met  target"
    )
    lines = [header]
    for row in rows:
        lines.append(
            f"{row.evaluation:14} {row.segment:50} {row.observations:5d} {row.median_abs_pct:8.2f} "
            f"{row.p90_abs_pct:8.2f} {row.bias_pct:+7.2f}  {row.met:3}  {row.target}"
        )
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    data_app.command("calibrate")(calibrate_command)
