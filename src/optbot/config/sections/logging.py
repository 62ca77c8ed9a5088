from __future__ import annotations

from typing import Literal

from pydantic import Field

from optbot.config.sections.base import Section


class LoggingSettings(Section):
    """Structured logs (spec §12.6 monitoring): JSON lines under paths.logs_dir plus console output."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="lowest level written to every sink (stdlib libraries included)"
    )
    console: bool = Field(default=True, description="readable log lines on stderr")
    json_file: bool = Field(
        default=True, description="JSON lines to <data_root>/<logs_dir>/optbot-YYYYMMDD.jsonl (IST date)"
    )
