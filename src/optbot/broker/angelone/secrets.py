"""Secrets (API key, PIN, TOTP secret) and session tokens in the OS keyring — never in plaintext.

On a headless Linux host there is no desktop keyring, so an encrypted-file backend
(keyrings.cryptfile, Argon2 + AES-GCM) is used; its password comes from `OPTBOT_KEYRING_PASSWORD`
or an interactive prompt. Environment overrides (`OPTBOT_SECRET_API_KEY`, ...) serve containers and
CI. Every value read is registered with the log redactor when one is available.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import orjson

from optbot.broker.angelone.session import SessionTokens
from optbot.core.errors import UserError
from optbot.core.timeutil import iso_utc, parse_iso

log = logging.getLogger("optbot.broker.angelone.secrets")

#: Secrets a user sets with `optbot auth set-secret NAME`.
SECRET_NAMES: tuple[str, ...] = ("api_key", "pin", "totp_secret", "telegram_bot_token")
ENV_PREFIX = "OPTBOT_SECRET_"
KEYRING_PASSWORD_ENV = "OPTBOT_KEYRING_PASSWORD"
_SESSION_KEY = "session"


class MissingSecret(UserError):
    """A secret the user has not provided yet; the message says how to provide it."""


def register_with_redactor(value: str) -> None:
    """Tell the log redactor (optbot.log.register_secret, if present) to mask this value."""
    if not value or len(value) < 4:
        return
    try:
        module = importlib.import_module("optbot.log")
    except ImportError:
        return
    register = getattr(module, "register_secret", None)
    if callable(register):
        register(value)


def _is_plaintext(backend: keyring.backend.KeyringBackend) -> bool:
    name = f"{type(backend).__module__}.{type(backend).__name__}".lower()
    return "plaintext" in name or "fail" in name or "null" in name


def _has_desktop_keyring(environ: Mapping[str, str]) -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(environ.get("DBUS_SESSION_BUS_ADDRESS"))


def encrypted_file_backend(path: Path, password: str) -> keyring.backend.KeyringBackend:
    """keyrings.cryptfile's encrypted file keyring at `path`, unlocked with `password`."""
    from keyrings.cryptfile.cryptfile import CryptFileKeyring

    if not password:
        raise UserError(
            f"the encrypted keyring needs a password: set {KEYRING_PASSWORD_ENV} or run interactively"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.parent.chmod(0o700)
    except OSError:
        log.warning("could not restrict permissions of %s", path.parent)
    backend = CryptFileKeyring()
    backend.file_path = str(path)
    try:
        backend.keyring_key = password  # unlocks (and verifies) an existing file
    except ValueError:
        raise UserError(
            f"cannot unlock the encrypted keyring {path}: wrong password (check {KEYRING_PASSWORD_ENV})"
        ) from None
    return backend


def choose_backend(
    mode: str,
    keyring_file: Path,
    environ: Mapping[str, str] | None = None,
    prompt_password: Callable[[], str] | None = None,
) -> keyring.backend.KeyringBackend:
    """Pick the OS keyring or the encrypted file; refuse plaintext backends."""
    env = os.environ if environ is None else environ
    if mode == "os" or (mode == "auto" and _has_desktop_keyring(env)):
        backend = keyring.get_keyring()
        if not _is_plaintext(backend):
            return backend
        if mode == "os":
            raise UserError(
                f"the OS keyring backend {type(backend).__name__} is not secure; "
                "set broker.keyring_backend = 'cryptfile'"
            )
    password = env.get(KEYRING_PASSWORD_ENV, "")
    if not password and prompt_password is not None:
        password = prompt_password()
    return encrypted_file_backend(keyring_file, password)


class SecretStore:
    """Named secrets and session tokens under one keyring service name."""

    def __init__(
        self,
        backend: keyring.backend.KeyringBackend,
        service: str = "optbot",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if _is_plaintext(backend):
            raise UserError(f"refusing to keep secrets in the insecure keyring {type(backend).__name__}")
        self._backend = backend
        self._service = service
        self._environ = os.environ if environ is None else environ

    @staticmethod
    def _check_name(name: str) -> None:
        if name not in SECRET_NAMES:
            raise UserError(f"unknown secret {name!r}; choose one of: {', '.join(SECRET_NAMES)}")

    def _read(self, key: str) -> str | None:
        try:
            value = self._backend.get_password(self._service, key)
        except (keyring.errors.KeyringError, ValueError) as exc:
            raise UserError(
                f"cannot read the keyring ({type(exc).__name__}); is {KEYRING_PASSWORD_ENV} right?"
            ) from None
        if value and key in SECRET_NAMES:
            register_with_redactor(value)
        return value or None

    def _write(self, key: str, value: str) -> None:
        try:
            self._backend.set_password(self._service, key, value)
        except (keyring.errors.KeyringError, ValueError) as exc:
            raise UserError(f"cannot write to the keyring ({type(exc).__name__})") from None
        if key in SECRET_NAMES:
            register_with_redactor(value)

    def _delete(self, key: str) -> None:
        try:
            self._backend.delete_password(self._service, key)
        except keyring.errors.PasswordDeleteError:
            return
        except (keyring.errors.KeyringError, ValueError) as exc:
            raise UserError(f"cannot delete from the keyring ({type(exc).__name__})") from None

    def get(self, name: str) -> str | None:
        """Environment override first (OPTBOT_SECRET_<NAME>), then the keyring."""
        self._check_name(name)
        override = self._environ.get(ENV_PREFIX + name.upper(), "").strip()
        if override:
            register_with_redactor(override)
            return override
        return self._read(name)

    def require(self, name: str) -> str:
        value = self.get(name)
        if not value:
            raise MissingSecret(
                f"secret {name!r} is not set: run `optbot auth set-secret {name}` "
                f"or export {ENV_PREFIX}{name.upper()}"
            )
        return value

    def set(self, name: str, value: str) -> None:
        self._check_name(name)
        cleaned = value.strip()
        if not cleaned:
            raise UserError(f"secret {name!r} must not be empty")
        self._write(name, cleaned)

    def delete(self, name: str) -> None:
        self._check_name(name)
        self._delete(name)

    def is_set(self, name: str) -> bool:
        self._check_name(name)
        return bool(self._environ.get(ENV_PREFIX + name.upper(), "").strip()) or self._read(name) is not None

    # -- session tokens ---------------------------------------------------------------------------

    def save_tokens(self, tokens: SessionTokens) -> None:
        """One keyring entry for the whole session (each entry costs a key derivation on cryptfile)."""
        session = {
            "client_code": tokens.client_code,
            "issued_at": iso_utc(tokens.issued_at),
            "expires_at": iso_utc(tokens.expires_at),
            "jwt_token": tokens.jwt_token,
            "refresh_token": tokens.refresh_token,
            "feed_token": tokens.feed_token,
        }
        self._write(_SESSION_KEY, orjson.dumps(session).decode())
        for value in (tokens.jwt_token, tokens.refresh_token, tokens.feed_token):
            register_with_redactor(value)

    def load_tokens(self) -> SessionTokens | None:
        text = self._read(_SESSION_KEY)
        if not text:
            return None
        try:
            session = orjson.loads(text)
            tokens = SessionTokens(
                client_code=str(session["client_code"]),
                issued_at=parse_iso(session["issued_at"]),
                expires_at=parse_iso(session["expires_at"]),
                jwt_token=str(session["jwt_token"]),
                refresh_token=str(session.get("refresh_token") or ""),
                feed_token=str(session["feed_token"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("stored session is unreadable; a new login is needed")
            return None
        if not tokens.jwt_token or not tokens.feed_token:
            return None
        for value in (tokens.jwt_token, tokens.refresh_token, tokens.feed_token):
            register_with_redactor(value)
        return tokens

    def clear_tokens(self) -> None:
        self._delete(_SESSION_KEY)
