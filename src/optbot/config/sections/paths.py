from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from optbot.config.sections.base import Section


class PathsSettings(Section):
    """Where optbot keeps its files (ARCHITECTURE 'Files on disk'); relative paths are under data_root."""

    data_root: Path = Field(
        default=Path("~/.optbot"), validate_default=True, description="Root of every file optbot writes"
    )
    raw_dir: Path = Path("raw")
    timeframes_dir: Path = Path("timeframes")
    instruments_dir: Path = Path("instruments")
    state_dir: Path = Path("state")
    reports_dir: Path = Path("reports")
    logs_dir: Path = Path("logs")
    backups_dir: Path = Path("backups")

    @field_validator("data_root")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    def resolve(self, relative: Path) -> Path:
        return relative if relative.is_absolute() else self.data_root / relative
