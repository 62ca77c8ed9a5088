from __future__ import annotations

from pathlib import Path

from pydantic import Field

from optbot.config.sections.base import Section


class CalendarSettings(Section):
    """Market calendar upkeep (spec §1.1 holiday check, §8.2 holiday mode, §13.7 calendar upkeep)."""

    overrides_file: Path | None = Field(
        default=None,
        description=(
            "spec §13.7: an updated calendar override file (same format as the packaged "
            "nse_overrides.toml) to use instead of the packaged one; relative paths are under paths.data_root"
        ),
    )
    coverage_warning_days: int = Field(
        default=45,
        ge=0,
        le=366,
        description="spec §8.2/§13.7: warn when the calendar's known range ends within this many days",
    )
