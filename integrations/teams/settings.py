"""The Teams plugin's settings, from TEAMS_* environment variables, checked at start-up."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

BOT_FRAMEWORK_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"
GRAPH_URL = "https://graph.microsoft.com/v1.0"
PUBLIC_SERVICE_URL = "https://smba.trafficmanager.net/teams/"
AUTHORITY_HOST = "https://login.microsoftonline.com"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MULTI_TENANT = frozenset({"common", "organizations", "consumers"})


class TeamsSettings(BaseSettings):
    """Every setting the Teams plugin reads; empty variables count as unset."""

    model_config = SettingsConfigDict(
        env_prefix="TEAMS_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    app_id: str | None = None
    app_password: SecretStr | None = None
    tenant_id: str | None = None
    openid_metadata_url: str = BOT_FRAMEWORK_METADATA
    program: str | None = None
    service_hosts: frozenset[str] = frozenset(
        {"smba.trafficmanager.net", "smba.infra.gcc.teams.microsoft.com"}
    )
    """Hosts a serviceUrl may have: tokens are never sent anywhere else."""
    meetings: bool = False
    """Video sessions get a Teams meeting in the supporter's calendar (Calendars.ReadWrite)."""
    free_busy: bool = False
    """Supporters' busy times in Outlook are taken off their slots (Calendars.Read)."""
    free_busy_minutes: int = Field(default=15, ge=5, le=1440)
    """How often the worker reads supporters' free/busy."""
    service_url: str = PUBLIC_SERVICE_URL
    """Where the bot opens a 1:1 chat with someone who never wrote to it (GCC and DoD differ)."""
    graph_url: str = GRAPH_URL
    authority_host: str = AUTHORITY_HOST
    """Entra ID's host; sovereign clouds differ (login.microsoftonline.us, …)."""
    console_client_id: str | None = None
    """The app registration behind "Sign in with Microsoft" on the console (not the bot's)."""
    console_client_secret: SecretStr | None = None

    @field_validator("openid_metadata_url", "graph_url", "authority_host")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        local = parts.scheme == "http" and parts.hostname in LOOPBACK
        if not (parts.scheme == "https" or local) or not parts.hostname:
            raise ValueError("must be an https URL (plain http only on localhost)")
        return value

    @model_validator(mode="after")
    def _service_url_allowed(self) -> TeamsSettings:
        parts = urlsplit(self.service_url)
        if parts.scheme != "https" or (parts.hostname or "") not in self.service_hosts:
            raise ValueError("TEAMS_SERVICE_URL must be https on a host in TEAMS_SERVICE_HOSTS")
        return self

    @model_validator(mode="after")
    def _console_sign_in_complete(self) -> TeamsSettings:
        """Half a sign-in setup fails start-up naming what is missing, not silently off."""
        if self.console_client_id is None and self.console_client_secret is None:
            return self
        if self.console_client_secret is None:
            raise ValueError("TEAMS_CONSOLE_CLIENT_SECRET is needed with TEAMS_CONSOLE_CLIENT_ID")
        if self.console_client_id is None:
            raise ValueError("TEAMS_CONSOLE_CLIENT_ID is needed with TEAMS_CONSOLE_CLIENT_SECRET")
        tenant = self.tenant_id or ""
        if not tenant or tenant.lower() in MULTI_TENANT or "." in tenant:
            raise ValueError(
                "TEAMS_TENANT_ID must be your directory (tenant) ID for console sign-in, "
                "not empty, a domain name or common/organizations/consumers"
            )
        return self

    @property
    def console_sign_in(self) -> bool:
        """The console offers "Sign in with Microsoft": its client id, secret and tenant are set."""
        return self.console_client_id is not None and self.console_client_secret is not None

    @property
    def configured(self) -> bool:
        """The bot can run: its app id, password and (single-tenant) tenant are all set."""
        return None not in (self.app_id, self.app_password, self.tenant_id)


def load_teams_settings(overrides: dict[str, object] | None = None) -> TeamsSettings:
    """Read TEAMS_*; a bad value becomes one ConfigError naming the variable, never its value."""
    try:
        return TeamsSettings.model_validate(overrides or {})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "TEAMS_" + str(error["loc"][0]).upper() if error["loc"] else "TEAMS settings"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigError("; ".join(problems)) from None
