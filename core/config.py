"""Settings from PEERLINE_* environment variables, checked once at start-up."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from limits import parse_many
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

MIN_SECRET_KEY_LENGTH = 32
RATE_LIMITS = (
    "rate_limit_intake",
    "rate_limit_lookup",
    "rate_limit_token",
    "rate_limit_per_token",
    "rate_limit_feed",
    "rate_limit_lti",
    "rate_limit_sign_in",
    "rate_limit_sign_in_account",
)


class Settings(BaseSettings):
    """Every setting the core reads; plugins read their own."""

    model_config = SettingsConfigDict(env_prefix="PEERLINE_", extra="ignore", frozen=True)

    env: Literal["development", "production", "testing"] = "development"
    database_url: str | None = None
    secret_key: SecretStr | None = None
    encryption_keys: SecretStr | None = None
    redis_url: str | None = None
    instance_path: Path | None = None
    public_url: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    trust_proxy_hops: int = Field(default=0, ge=0, le=5)
    smtp_url: SecretStr | None = Field(
        None, description="smtp://user:pass@host:587 (STARTTLS) or smtps://…:465 (TLS)"
    )
    smtp_from: str = "PeerLine <peerline@localhost>"
    smtp_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    smtp_ca_file: Path | None = Field(
        None, description="Extra CA bundle trusted for the SMTP relay (private relays, tests)"
    )
    mail_folder: Path | None = Field(
        None, description="Development: write e-mails as .eml files here instead of sending them"
    )
    metrics_token: SecretStr | None = None
    delivery_max_attempts: int = Field(default=8, ge=1, le=30)
    test_clock_file: Path | None = Field(
        None, description="Testing only: a file of seconds added to the clock of every process"
    )
    rate_limits_enabled: bool = True
    rate_limit_intake: str = "60 per minute;600 per hour"  # a whole campus may share one address
    rate_limit_lookup: str = "120 per minute"
    rate_limit_token: str = "60 per minute"  # noqa: S105 - a rate, not a secret
    rate_limit_per_token: str = "30 per minute"  # noqa: S105
    rate_limit_feed: str = "600 per minute"
    rate_limit_lti: str = "60 per minute"
    rate_limit_sign_in: str = "20 per minute;200 per hour"
    rate_limit_sign_in_account: str = "10 per minute;60 per hour"  # above the lock-out's 5

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator(*RATE_LIMITS)
    @classmethod
    def _rate_limits(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError("must be like '20 per minute;200 per hour'") from None
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        keys = [k.strip() for k in value.get_secret_value().split(",") if k.strip()]
        if not keys:
            raise ValueError("must list at least one Fernet key")
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key.encode())
            except (ValueError, TypeError):
                raise ValueError(
                    f"key {position} is not a Fernet key (32 url-safe base64-encoded bytes)"
                ) from None
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("smtp://", "smtps://")):
            raise ValueError("must start with smtp:// (STARTTLS when offered) or smtps:// (TLS)")
        return value

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @property
    def fernet_keys(self) -> list[str]:
        assert self.encryption_keys is not None
        raw = self.encryption_keys.get_secret_value()
        return [k.strip() for k in raw.split(",") if k.strip()]


def load_settings(overrides: dict[str, object] | None = None) -> Settings:
    """Read the environment (plus test overrides); turn bad values into one clear error."""
    try:
        settings = Settings.model_validate(overrides or {})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "PEERLINE_" + str(error["loc"][0]).upper() if error["loc"] else "settings"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigError("; ".join(problems)) from None
    if settings.env == "production":
        _check_production(settings)
    return settings


def _check_production(settings: Settings) -> None:
    missing = [
        name
        for name, value in (
            ("PEERLINE_SECRET_KEY", settings.secret_key),
            ("PEERLINE_ENCRYPTION_KEYS", settings.encryption_keys),
            ("PEERLINE_DATABASE_URL", settings.database_url),
        )
        if value is None
    ]
    if missing:
        raise ConfigError("production mode needs " + ", ".join(missing))
    if settings.test_clock_file is not None:
        raise ConfigError("PEERLINE_TEST_CLOCK_FILE: only for PEERLINE_ENV=testing")
    if settings.mail_folder is not None:
        raise ConfigError("PEERLINE_MAIL_FOLDER: development only; set PEERLINE_SMTP_URL")
    assert settings.secret_key is not None
    if len(settings.secret_key.get_secret_value()) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            f"PEERLINE_SECRET_KEY: must be at least {MIN_SECRET_KEY_LENGTH} characters"
        )


def embedded_secrets(instance_path: Path) -> dict[str, str]:
    """Development keys kept in the instance folder, so demo data survives a restart."""
    path = instance_path / "dev-secrets.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    values = {
        "secret_key": secrets.token_urlsafe(48),
        "encryption_keys": Fernet.generate_key().decode(),
    }
    instance_path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    return values
