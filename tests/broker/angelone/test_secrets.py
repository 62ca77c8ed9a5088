"""SecretStore: env overrides, keyring round trips, encrypted file on headless hosts, no plaintext."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import keyring.backend
import pytest

from optbot.broker.angelone.secrets import (
    KEYRING_PASSWORD_ENV,
    MissingSecret,
    SecretStore,
    choose_backend,
)
from optbot.broker.angelone.session import SessionTokens
from optbot.core.errors import UserError
from optbot.test_kit.broker import MemoryKeyring


class PlaintextKeyring(MemoryKeyring):
    """Stands in for keyrings.alt's plaintext backend (refused by name)."""


def test_env_override_wins_and_missing_secret_says_how_to_fix() -> None:
    store = SecretStore(MemoryKeyring(), environ={"OPTBOT_SECRET_PIN": "1111"})
    store.set("pin", "2222")
    assert store.get("pin") == "1111"
    with pytest.raises(MissingSecret, match="optbot auth set-secret api_key") as info:
        store.require("api_key")
    assert "OPTBOT_SECRET_API_KEY" in str(info.value)


def test_unknown_and_empty_secrets_are_refused() -> None:
    store = SecretStore(MemoryKeyring(), environ={})
    with pytest.raises(UserError, match="unknown secret"):
        store.set("password", "x")
    with pytest.raises(UserError, match="must not be empty"):
        store.set("pin", "   ")


def test_plaintext_backend_is_refused() -> None:
    with pytest.raises(UserError, match="insecure"):
        SecretStore(PlaintextKeyring())


def test_tokens_round_trip_and_clear() -> None:
    store = SecretStore(MemoryKeyring(), environ={})
    issued = datetime(2026, 11, 18, 4, 30, tzinfo=UTC)
    tokens = SessionTokens("A1", issued, issued + timedelta(hours=14), "jwt", "", "feed")
    store.save_tokens(tokens)
    loaded = store.load_tokens()
    assert loaded == tokens
    assert "jwt" not in repr(loaded) and "feed'" not in repr(loaded)
    store.clear_tokens()
    assert store.load_tokens() is None


def test_headless_host_uses_the_encrypted_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "keyring.cfg"
    backend = choose_backend("auto", path, environ={KEYRING_PASSWORD_ENV: "correct horse"})
    assert type(backend).__name__ == "CryptFileKeyring"
    store = SecretStore(backend, "optbot-test", environ={})
    store.set("totp_secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
    content = path.read_bytes()
    assert b"GEZDGNBVGY3TQOJQ" not in content  # encrypted, never plaintext
    reopened = SecretStore(
        choose_backend("cryptfile", path, environ={KEYRING_PASSWORD_ENV: "correct horse"}),
        "optbot-test",
        environ={},
    )
    assert reopened.get("totp_secret") == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    with pytest.raises(UserError, match="wrong password"):
        choose_backend("cryptfile", path, environ={KEYRING_PASSWORD_ENV: "wrong"})


def test_encrypted_file_needs_a_password(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=KEYRING_PASSWORD_ENV):
        choose_backend("cryptfile", tmp_path / "k.cfg", environ={})
    assert isinstance(
        choose_backend("cryptfile", tmp_path / "k.cfg", environ={}, prompt_password=lambda: "typed"),
        keyring.backend.KeyringBackend,
    )


def test_secrets_and_tokens_are_registered_with_the_log_redactor() -> None:
    from optbot import log as optbot_log

    store = SecretStore(MemoryKeyring(), environ={"OPTBOT_SECRET_API_KEY": "env-api-key-777"})
    store.set("pin", "8642")
    assert store.get("api_key") == "env-api-key-777"
    issued = datetime(2026, 11, 18, 4, 30, tzinfo=UTC)
    store.save_tokens(
        SessionTokens("A1", issued, issued + timedelta(hours=1), "eyJjwt-token-x", "", "feed-token-y")
    )
    text = optbot_log.redact_text("pin=8642 key=env-api-key-777 jwt eyJjwt-token-x feed feed-token-y")
    for secret in ("8642", "env-api-key-777", "eyJjwt-token-x", "feed-token-y"):
        assert secret not in text
