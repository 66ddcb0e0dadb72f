"""Calendar sync settings, from LMS_CANVAS_* and LMS_MOODLE_* variables, checked at start-up.

Canvas runs when its URL, developer key (id and secret) and course are all set; Moodle when
its URL and web service token are. Part of a set is an error naming what is missing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
CANVAS_SET = ("canvas_url", "canvas_client_id", "canvas_client_secret", "canvas_course")
MOODLE_SET = ("moodle_url", "moodle_token")


class SyncSettings(BaseSettings):
    """Every setting the calendar sync reads; empty variables count as unset."""

    model_config = SettingsConfigDict(
        env_prefix="LMS_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    canvas_url: str | None = None
    """The Canvas site, e.g. https://school.instructure.com."""
    canvas_client_id: str | None = None
    canvas_client_secret: SecretStr | None = None
    canvas_course: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    """The program course's numeric id: appointment groups are made in it."""
    canvas_program: str | None = None
    canvas_days: int = Field(default=14, ge=1, le=62)
    """How far ahead supporters' free times are published."""
    canvas_poll_minutes: int = Field(default=5, ge=1, le=1440)
    """How often slots are published and reservations read (Canvas does not push)."""
    canvas_topic: str | None = None
    """The topic of bookings made in Canvas (default: `general` if offered, else the first)."""
    canvas_mode: str = "video"
    """The mode of bookings made in Canvas; only supporters offering it are published."""
    moodle_url: str | None = None
    moodle_token: SecretStr | None = None
    moodle_program: str | None = None
    moodle_issuer: str | None = None
    """The LTI issuer of this Moodle's launches (default: LMS_MOODLE_URL without a final /)."""

    @field_validator("canvas_url", "moodle_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        local = parts.scheme == "http" and parts.hostname in LOOPBACK
        if not (parts.scheme == "https" or local) or not parts.hostname:
            raise ValueError("must be an https URL (plain http only on localhost)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _complete(self) -> SyncSettings:
        for names in (CANVAS_SET, MOODLE_SET):
            missing = [n for n in names if getattr(self, n) is None]
            if missing and len(missing) < len(names):
                named = ", ".join(f"LMS_{n.upper()}" for n in missing)
                raise ValueError(f"{named} must be set too")
        return self

    @property
    def canvas(self) -> bool:
        return all(getattr(self, n) is not None for n in CANVAS_SET)

    @property
    def moodle(self) -> bool:
        return all(getattr(self, n) is not None for n in MOODLE_SET)

    @property
    def issuer(self) -> str:
        return (self.moodle_issuer or self.moodle_url or "").rstrip("/")


def load_sync_settings(overrides: dict[str, object] | None = None) -> SyncSettings:
    """Read LMS_*; a bad value becomes one ConfigError naming the variable, never its value."""
    try:
        return SyncSettings.model_validate(overrides or {})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "LMS_" + str(error["loc"][0]).upper() if error["loc"] else "LMS sync settings"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigError("; ".join(problems)) from None
