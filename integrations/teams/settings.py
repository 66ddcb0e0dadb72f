"""The Teams plugin's settings, from TEAMS_* environment variables, checked at start-up."""

from __future__ import annotations

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

BOT_FRAMEWORK_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"


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

    @field_validator("openid_metadata_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("must be an https URL (plain http only on localhost)")
        return value

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
