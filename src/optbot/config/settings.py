"""The root settings model and its loader.

Precedence (highest first): `OPTBOT__SECTION__KEY` environment variables, the TOML file, defaults.
Secrets are never read from the TOML file: they come from the OS keyring or the environment.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from enum import Enum
from pathlib import Path
from typing import Any, get_origin

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from optbot.config.sections.analytics import AnalyticsSettings
from optbot.config.sections.backtest import BacktestSettings
from optbot.config.sections.broker import BrokerSettings
from optbot.config.sections.calendar import CalendarSettings
from optbot.config.sections.dashboard import DashboardSettings
from optbot.config.sections.data import DataSettings
from optbot.config.sections.engine import EngineSettings
from optbot.config.sections.execution import ExecutionSettings
from optbot.config.sections.indicators import IndicatorsSettings
from optbot.config.sections.instruments import InstrumentsSettings
from optbot.config.sections.logging import LoggingSettings
from optbot.config.sections.margin import MarginSettings
from optbot.config.sections.metrics import MetricsSettings
from optbot.config.sections.notifications import NotificationsSettings
from optbot.config.sections.paths import PathsSettings
from optbot.config.sections.persistence import PersistenceSettings
from optbot.config.sections.replay import ReplaySettings
from optbot.config.sections.research import ResearchSettings
from optbot.config.sections.risk import RiskSettings
from optbot.config.sections.session import SessionSettings
from optbot.config.sections.sim import SimSettings
from optbot.config.sections.strategy import StrategySettings
from optbot.config.sections.telegram import TelegramSettings
from optbot.config.sections.universe import UniverseSettings
from optbot.core.enums import RunMode
from optbot.core.errors import ConfigError

ENV_PREFIX = "OPTBOT__"

log = logging.getLogger(__name__)

#: Deprecated keys still accepted (a config that sets one keeps loading): (section, key) -> the
#: (section, key) that replaced it. Loading one logs a warning naming both, and its value is applied to
#: the replacement unless the replacement is set too.
DEPRECATED_ALIASES: dict[tuple[str, str], tuple[str, str]] = {
    ("instruments", "strikes_around_atm"): ("engine", "atm_strike_window"),
    ("instruments", "min_open_interest"): ("strategy", "min_open_interest"),
    ("instruments", "subscription_token_limit"): ("broker", "max_tokens_per_connection"),
}

#: Settings accepted but with no effect (each with why), so a config that tunes one is told so at load
#: instead of being silently ignored: (section, key) -> the reason, as the warning prints it.
INERT_SETTINGS: dict[tuple[str, str], str] = {
    # spec §3.1: NSE index options are listed on NFO only; contracts carry their exchange
    ("universe", "option_exchange"): "every order and subscription takes the exchange from its contract",
    # spec §2.1.1 keeps raw ticks as raw/{SYMBOL}_today.json and _yesterday.json
    ("data", "raw_tick_retention_days"): "the raw-tick files hold today and yesterday by construction",
    # spec §3.4/§5.4 ±50 points: the normal window is engine.atm_strike_window strikes either side
    ("instruments", "normal_range_points"): "the normal window is engine.atm_strike_window strikes each side",
    # SEBI retail-algo rules: its validator refuses true; that refusal is its whole behaviour
    ("execution", "allow_market_orders"): "market orders are always sent as depth-priced limits",
    ("engine", "demo_days"): "the demo replays one session (optbot demo --day)",
    # spec §11.5: bias replays run the bar backtest kernel, which loads engine.warmup_intraday_days
    ("research", "bias_intraday_history_days"): "bias replays load engine.warmup_intraday_days",
}

#: Keys that hold secrets; finding one in a config file is an error.
SECRET_KEYS = frozenset(
    {
        "api_key",
        "pin",
        "password",
        "mpin",
        "totp",
        "totp_secret",
        "jwt_token",
        "refresh_token",
        "feed_token",
        "secret",
        "operator_token",
        "viewer_token",
    }
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
        validate_assignment=True,
    )

    mode: RunMode = Field(default=RunMode.PAPER, description="live must also be confirmed on the CLI")
    paths: PathsSettings = Field(default_factory=PathsSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    session: SessionSettings = Field(default_factory=SessionSettings)
    universe: UniverseSettings = Field(default_factory=UniverseSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    instruments: InstrumentsSettings = Field(default_factory=InstrumentsSettings)
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    margin: MarginSettings = Field(default_factory=MarginSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    notifications: NotificationsSettings = Field(default_factory=NotificationsSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    backtest: BacktestSettings = Field(default_factory=BacktestSettings)
    sim: SimSettings = Field(default_factory=SimSettings)
    replay: ReplaySettings = Field(default_factory=ReplaySettings)
    indicators: IndicatorsSettings = Field(default_factory=IndicatorsSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    research: ResearchSettings = Field(default_factory=ResearchSettings)
    persistence: PersistenceSettings = Field(default_factory=PersistenceSettings)

    @model_validator(mode="before")
    @classmethod
    def _apply_deprecated_aliases(cls, data: Any) -> Any:
        """Map each deprecated key the input sets onto its replacement, with one warning line each.

        Only raw input (sections as dicts: the file and the environment) is mapped; re-validation on
        assignment sees section objects and passes through, so a key is reported once per load."""
        if not isinstance(data, dict):
            return data
        for (section, key), (target_section, target_key) in DEPRECATED_ALIASES.items():
            source = data.get(section)
            if not isinstance(source, dict) or source.get(key) is None:
                continue
            target = data.get(target_section, {})
            if not isinstance(target, dict):
                continue
            if target.get(target_key) is None:
                data = {**data, target_section: {**target, target_key: source[key]}}
                outcome = "its value is applied there"
            else:
                outcome = f"ignored: {target_section}.{target_key} is set too"
            replacement = f"{target_section}.{target_key}"
            log.warning("config: %s.%s is deprecated, use %s (%s)", section, key, replacement, outcome)
        return data

    @model_validator(mode="before")
    @classmethod
    def _warn_inert_settings(cls, data: Any) -> Any:
        """One warning line for each setting with no effect that the input sets to a non-default value."""
        if not isinstance(data, dict):
            return data
        for (section, key), reason in INERT_SETTINGS.items():
            source = data.get(section)
            if not isinstance(source, dict) or key not in source:
                continue
            default = getattr(cls.model_fields[section].get_default(call_default_factory=True), key)
            if isinstance(default, Enum):
                default = default.value
            if str(source[key]).lower() != str(default).lower():
                log.warning("config: %s.%s has no effect (%s)", section, key, reason)
        return data

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file; the file's contents arrive as init kwargs.
        return (env_settings, init_settings)


def _find_secret_keys(data: dict[str, Any], prefix: str = "") -> list[str]:
    found: list[str] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key.lower() in SECRET_KEYS:
            found.append(dotted)
        if isinstance(value, dict):
            found.extend(_find_secret_keys(value, dotted + "."))
    return found


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ())) or "(root)"
    if error.get("type") == "extra_forbidden":
        return f"{location}: unknown setting"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if "input" in error and error.get("type") not in ("missing",) and not isinstance(error["input"], dict):
        message = f"{message} (got {error['input']!r})"
    return f"{location}: {message}"


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError([f"{path}: file not found"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from exc


def _unparsable_environment() -> list[str]:
    """The `OPTBOT__SECTION__KEY` variables of list/dict settings whose value is not JSON.

    The environment source decodes such a value as JSON before validation and raises a bare
    `SettingsError` naming only the section; this names the variable and the shape it needs.
    """
    problems: list[str] = []
    for name, value in os.environ.items():
        parts = name.lower().split("__")
        if len(parts) != 3 or f"{parts[0]}__" != ENV_PREFIX.lower():
            continue
        section_field = Settings.model_fields.get(parts[1])
        section = section_field.annotation if section_field is not None else None
        if not (isinstance(section, type) and issubclass(section, BaseModel)):
            continue
        field = section.model_fields.get(parts[2])
        if field is None or get_origin(field.annotation) not in (list, dict, set, tuple):
            continue
        try:
            json.loads(value)
        except ValueError:
            problems.append(
                f'{parts[1]}.{parts[2]}: {name} must be JSON, e.g. \'["a", "b"]\' (got {value!r})'
            )
    return problems


def load_settings(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Load and validate settings; raise ConfigError listing every problem as `section.key: reason`."""
    file_data = read_toml(path) if path is not None else {}
    secret_keys = _find_secret_keys(file_data)
    problems = [
        f"{key}: secrets are not read from the config file; use `optbot auth set-secret` or the environment"
        for key in secret_keys
    ]
    if overrides:
        file_data = {**file_data, **overrides}
    try:
        settings = Settings(**file_data)
    except ValidationError as exc:
        reported = set(secret_keys)  # a secret key is also "unknown" to the model: say it once
        problems.extend(
            _describe(dict(error))
            for error in exc.errors()
            if ".".join(str(part) for part in error.get("loc", ())) not in reported
        )
        raise ConfigError(problems) from None
    except SettingsError as exc:  # an environment value the source could not even decode
        raise ConfigError(problems + (_unparsable_environment() or [str(exc)])) from None
    if problems:
        raise ConfigError(problems)
    return settings


def effective_mode(settings: Settings, confirm_live: bool) -> RunMode:
    """Live needs mode=live in config AND the CLI confirmation; anything else runs paper."""
    if settings.mode is RunMode.LIVE and confirm_live:
        return RunMode.LIVE
    if settings.mode is RunMode.BACKTEST:
        return RunMode.BACKTEST
    return RunMode.PAPER
