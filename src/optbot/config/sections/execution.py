from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from optbot.config.sections.base import Section
from optbot.core.enums import OrderType, ProductType


def _default_order_types() -> list[OrderType]:
    return [OrderType.LIMIT, OrderType.STOPLOSS_LIMIT]


def _default_option_products() -> list[ProductType]:
    return [ProductType.INTRADAY, ProductType.CARRYFORWARD]


class ExecutionSettings(Section):
    """Order management (spec §6, §13.2). Owned by optbot.execution."""

    pending_order_timeout_seconds: float = Field(default=45.0, ge=30, le=60, description="spec §6.2: 30-60 s")
    cancel_on_vix_jump_points: float = Field(default=5.0, gt=0, description="spec §6.2: VIX spike > 5")
    cancel_on_underlying_move_pct: float = Field(default=1.0, gt=0, description="spec §6.2: > 1 %")
    retry_backoff_seconds: list[float] = Field(default_factory=lambda: [1.0, 2.0, 4.0])
    max_retries: int = Field(default=3, ge=0, le=10, description="spec §6.2: at most 3")
    max_slippage_pct: float = Field(default=2.0, gt=0, description="spec §13.2: slippage fence")
    allow_market_orders: bool = Field(
        default=False,
        description="SEBI retail-algo rules (April 2026): no MARKET order may reach the broker; a MARKET "
        "intent is sent as a marketable limit inside the limit-price-protection band. Must stay false",
    )
    # --- intents and idempotency (§6.2, §13.2)
    duplicate_intent_window_seconds: float = Field(
        default=60.0,
        ge=0,
        description="spec §6.2 duplicate prevention: an identical intent (same content hash) within this "
        "window is treated as a repeat and not sent again",
    )
    unresolved_not_found_grace_seconds: float = Field(
        default=30.0,
        gt=0,
        description="spec §6.2/§13.6: an unresolved order absent from the order book this long (real, "
        "monotonic seconds, never replay time) after its reply was lost, and in at least "
        "unresolved_not_found_checks order-book reads, is settled REJECTED; a later broker report of it "
        "is still adopted",
    )
    unresolved_not_found_checks: int = Field(
        default=2,
        ge=1,
        le=10,
        description="order-book reads that must all miss an unresolved order (the last after the grace) "
        "before it is settled as never having reached the broker",
    )
    poll_interval_seconds: float = Field(
        default=1.0, gt=0, description="spec §6.3: order details / order book polling while orders are open"
    )
    # --- throttling (reference §7: order APIs 9/s cumulative, 500/min, 1000/h)
    order_rate_per_second: int = Field(default=9, ge=1, description="reference §7: order APIs 9/s cumulative")
    order_rate_per_minute: int = Field(default=500, ge=1, description="reference §7: order APIs 500/min")
    order_rate_per_hour: int = Field(default=1000, ge=1, description="reference §7: order APIs 1000/h")
    # --- pre-send validation (§13.1, §13.2)
    allowed_order_types: list[OrderType] = Field(
        default_factory=_default_order_types,
        description="spec §13.1 allowed order types; MARKET is never sent (SEBI rules): it becomes a limit",
    )
    allowed_option_products: list[ProductType] = Field(
        default_factory=_default_option_products,
        description="spec §13.1: options trade INTRADAY (MIS) or CARRYFORWARD (NRML)",
    )
    stop_limit_buffer_pct: float = Field(
        default=2.0,
        gt=0,
        description="spec §13.2: SL-M is emulated as SL-limit with the limit this far beyond the trigger",
    )
    reprice_policy: Literal["cancel", "reprice"] = Field(
        default="cancel",
        description="spec §6.2: on pending timeout cancel, or re-price once to the current quote",
    )
    max_reprices: int = Field(
        default=1, ge=0, le=5, description="entries: re-price attempts (modify) after the pending timeout"
    )
    # --- SEBI retail-algo rules (April 2026) and the limit-only chase
    max_orders_per_second_per_segment: int = Field(
        default=10,
        ge=1,
        le=10,
        description="SEBI retail-algo rules: at most this many order messages (new orders, freeze slices, "
        "modifications, cancels) per second per exchange segment; above 10 the algo must be registered "
        "with the exchange, so higher values are refused",
    )
    limit_price_protection_pct: float = Field(
        default=5.0,
        gt=0,
        le=20,
        description="limit-price protection (LPP) band, percent of the last traded price: marketable limits "
        "and every chase step stay inside the wider of this and limit_price_protection_min_rupees around the "
        "last price (NSE refuses a limit beyond 40 % or, up to a Rs 50 premium, Rs 20 from it; the defaults "
        "stay inside that at every premium)",
    )
    limit_price_protection_min_rupees: float = Field(
        default=20.0,
        ge=0,
        le=20,
        description="the LPP band is never narrower than this many rupees either side of the last traded "
        "price (NSE index options: Rs 20 up to a Rs 50 premium). Without it a cheap option's band (5 % of "
        "Rs 0.75) is narrower than its spread and an exit can never reach the bid",
    )
    chase_interval_seconds: float = Field(
        default=3.0,
        gt=0,
        description="exits and flattens: a working limit not filled after this long (real time) is "
        "re-priced one chase step toward and through the touch (a modify of the same order)",
    )
    chase_max_attempts: int = Field(
        default=5,
        ge=0,
        le=20,
        description="re-price steps of one exit order; past it the order rests at its last price and a "
        "critical alert asks a person to look",
    )
    chase_step_ticks: int = Field(
        default=2, ge=1, le=100, description="each chase step moves the limit this many ticks past the touch"
    )
    exit_retry_interval_seconds: float = Field(
        default=2.0,
        gt=0,
        description="an exit or flatten order that ended unfilled (rejected, cancelled, expired) while the "
        "position is still open is sent again (a new child order of the same intent) after this long",
    )
    exit_max_attempts: int = Field(
        default=5,
        ge=1,
        le=20,
        description="orders one exit intent may send (the first included) before a person is asked to act",
    )
    # --- charges (§11.1, §13.3)
    charges_rate_card_file: Path | None = Field(
        default=None, description="spec §11.1: dated rate card JSON; None uses the bundled Angel One card"
    )
    charges_rounding: Literal["exact", "paisa"] = Field(
        default="paisa",
        description="spec §13.3: round each charge component to the paisa like a contract note",
    )
    # --- reconciliation (§13.3)
    reconcile_interval_seconds: float = Field(
        default=300.0, gt=0, description="spec §13.3: periodic reconciliation during the session"
    )
    reconcile_funds_variance_rupees: float = Field(
        default=1.0, ge=0, description="spec §13.3: funds variance above this raises an alert"
    )
    reconcile_funds_model: Literal["realised_m2m", "cash_flow_net_of_charges"] = Field(
        default="realised_m2m",
        description="spec §13.3 funds check: compare the broker's realised M2M with the day's realised P&L "
        "from local fills, or (brokers that debit charges intraday) the net funds with "
        "start + cash flow - charges",
    )
    reconcile_pnl_variance_rupees: float = Field(
        default=1.0, ge=0, description="spec §13.3 P&L parity: realised P&L variance above this alerts"
    )
    reconcile_settling_grace_runs: int = Field(
        default=2,
        ge=0,
        le=20,
        description="spec §13.3/§13.6: a periodic difference explained by an order still settling (its "
        "reply unresolved, or filled at the broker with the fill not yet booked) is held as pending for "
        "this many periodic runs in a row, the fills synced again each time; past it (and "
        "reconcile_settling_grace_seconds) it is a mismatch",
    )
    reconcile_settling_grace_seconds: float = Field(
        default=60.0,
        ge=0,
        description="real (monotonic) seconds a settling difference may stay pending before it is a "
        "mismatch, however many periodic runs saw it (a replay's runs come seconds apart)",
    )
    # --- audit retention (§11.1 audit trail, §13.10 audit log immutability and retention)
    audit_retention_days: int = Field(
        default=2555,
        ge=1,
        description="spec §11.1/§13.10 audit retention; the spec gives no figure, so 7 years (SEBI-style "
        "record keeping): older audit rows are moved to a verifiable compressed archive, never dropped",
    )
    audit_archive_dir: Path = Field(
        default=Path("state/audit-archive"),
        description="where pruned audit rows are archived (gzip JSON lines); relative to paths.data_root",
    )

    @field_validator("allow_market_orders")
    @classmethod
    def _no_market_orders(cls, value: bool) -> bool:
        if value:
            raise ValueError(
                "MARKET orders may not be sent under SEBI's retail-algo rules (April 2026); optbot sends "
                "marketable limits inside the limit-price-protection band instead: leave it false"
            )
        return value

    @field_validator("allowed_order_types")
    @classmethod
    def _limit_types_only(cls, value: list[OrderType]) -> list[OrderType]:
        market = [kind.value for kind in value if kind in (OrderType.MARKET, OrderType.STOPLOSS_MARKET)]
        if market:
            raise ValueError(
                f"{', '.join(market)} may not be sent under SEBI's retail-algo rules (April 2026): "
                "only LIMIT and STOPLOSS_LIMIT"
            )
        return value
