"""The Slack plugin's settings, from SLACK_* environment variables, checked at start-up."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError
from core.schemas.programs import Slug

ENV_PREFIX = "SLACK_"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
COMMAND_PATTERN = re.compile(r"^/[a-z0-9_-]{1,31}$")


class SlackSettings(BaseSettings):
    """Every setting the Slack plugin reads; empty variables count as unset."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True
    )

    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    api_url: str = "https://slack.com/api/"
    program: Slug | None = None
    command: str = "/peer"

    @field_validator("api_url")
    @classmethod
    def _web_api_base(cls, value: str) -> str:
        return web_api_base(value)

    @field_validator("command")
    @classmethod
    def _slash_command(cls, value: str) -> str:
        return slash_command(value)

    @property
    def single_workspace(self) -> bool:
        """One workspace, one bot token: no OAuth install flow needed."""
        return self.bot_token is not None and self.signing_secret is not None

    @property
    def oauth(self) -> bool:
        """Many workspaces, each installing the app through Slack's OAuth flow."""
        return (
            self.client_id is not None
            and self.client_secret is not None
            and self.signing_secret is not None
        )

    @property
    def configured(self) -> bool:
        """Whether any SLACK_* setting was given at all (silence means the plugin stays off)."""
        return bool(self.model_fields_set)


def web_api_base(value: str) -> str:
    """The Web API base slack_sdk appends method names to; it carries the bot token, so TLS."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL such as https://slack.com/api/")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError("must use https (http only for localhost)")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    base = value.strip().rstrip("/") + "/"
    if not base.endswith("/api/"):
        raise ValueError("must end with /api/ (the Web API root, e.g. https://slack.com/api/)")
    return base


def slash_command(value: str) -> str:
    """Slack's rule for command names: a slash, then up to 31 lowercase characters."""
    if not COMMAND_PATTERN.match(value):
        raise ValueError("must be a slash and 1-31 lowercase letters, digits, - or _ (e.g. /peer)")
    return value


def load_slack_settings(overrides: dict[str, object] | None = None) -> SlackSettings:
    """Read SLACK_* (plus test overrides); turn bad values into one error naming the variable."""
    try:
        settings = SlackSettings.model_validate(overrides or {})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():  # messages only: pydantic's input echo could hold a secret
            name = ENV_PREFIX + str(error["loc"][0]).upper() if error["loc"] else "SLACK_*"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigError("; ".join(problems)) from None
    _check_complete(settings)
    return settings


def _check_complete(settings: SlackSettings) -> None:
    """A half-configured workspace fails start-up instead of silently serving nobody."""
    if settings.bot_token is not None and settings.signing_secret is None:
        raise ConfigError(
            "SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN (requests from Slack are "
            "verified with it)"
        )
    if (settings.client_id is None) != (settings.client_secret is None):
        missing = "SLACK_CLIENT_SECRET" if settings.client_secret is None else "SLACK_CLIENT_ID"
        raise ConfigError(f"{missing}: required for OAuth installs (set both, or neither)")
    if settings.client_id is not None and settings.signing_secret is None:
        raise ConfigError(
            "SLACK_SIGNING_SECRET: required with SLACK_CLIENT_ID (requests from Slack are "
            "verified with it)"
        )
