from __future__ import annotations

from typing import Literal

from optbot.config.sections.base import Section


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    console: bool = True
    json_file: bool = True
