"""The Teams plugin's hook: the `teams` commands now; the bot endpoint as the Teams issue lands."""

from __future__ import annotations

from core.plugins import PluginHost
from integrations.teams.manifest import teams_group
from integrations.teams.settings import load_teams_settings


def init_app(host: PluginHost) -> None:
    """A bad TEAMS_* raises ConfigError here, so start-up fails naming the variable."""
    host.add_command(teams_group)
    load_teams_settings()
