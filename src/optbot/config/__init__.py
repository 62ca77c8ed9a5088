"""Typed, validated settings: TOML file + OPTBOT__SECTION__KEY environment overrides."""

from optbot.config.settings import ConfigError, Settings, effective_mode, load_settings

__all__ = ["ConfigError", "Settings", "effective_mode", "load_settings"]
