from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class TelegramSettings(Section):
    """Remote control over Telegram for the operator (status, positions, P&L, pause/resume entries,
    exit a position, kill switch). The bot token is a secret: `optbot auth set-secret
    telegram_bot_token` or `OPTBOT_SECRET_TELEGRAM_BOT_TOKEN`, never in this file."""

    enabled: bool = Field(default=False, description="poll Telegram for operator commands")
    api_base_url: str = Field(
        default="https://api.telegram.org", description="Bot API endpoint (tests point it at a local fake)"
    )
    allowed_chat_ids: list[int] = Field(
        default_factory=list, description="the only chats whose commands are obeyed; others are ignored"
    )
    poll_timeout_seconds: int = Field(default=25, ge=0, le=60, description="getUpdates long-poll timeout")
    request_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="added to the long-poll timeout for each HTTP request"
    )
    confirm_timeout_seconds: float = Field(
        default=60.0, gt=0, le=600, description="a trading command runs only on `yes <code>` within this time"
    )
    retry_seconds: float = Field(default=5.0, gt=0, le=300, description="pause after a failed poll")
