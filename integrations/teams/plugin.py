"""The Teams plugin's hook: the `teams` commands always; the bot when TEAMS_* are set;
"Sign in with Microsoft" on the console when TEAMS_CONSOLE_CLIENT_ID/SECRET are set."""

from __future__ import annotations

import logging
from datetime import timedelta

from core.plugins import PluginHost
from integrations.teams import console_panel, meetings
from integrations.teams.auth import BotAuthenticator
from integrations.teams.bot import Bot, blueprint
from integrations.teams.channel import Proactive, TeamsChannel
from integrations.teams.connector import BotConnector
from integrations.teams.console_sign_in import entra_sign_in
from integrations.teams.free_busy import FreeBusy
from integrations.teams.graph import GraphClient
from integrations.teams.manifest import teams_group
from integrations.teams.meetings import MeetingChannel
from integrations.teams.settings import TeamsSettings, load_teams_settings
from integrations.teams.tokens import TokenProvider

log = logging.getLogger(__name__)


def init_app(host: PluginHost) -> None:
    """A bad TEAMS_* raises ConfigError here, so start-up fails naming the variable."""
    host.add_command(teams_group)
    settings = load_teams_settings()
    console_panel.register(host, settings)  # the console's Integrations page
    sign_in = entra_sign_in(settings, host.runtime.clock.now)
    if sign_in is not None:
        host.add_sign_in(sign_in)
    if not settings.configured:
        log.debug("Teams is off: TEAMS_APP_ID, TEAMS_APP_PASSWORD and TEAMS_TENANT_ID not all set")
        return
    assert settings.app_id and settings.app_password and settings.tenant_id
    tokens = TokenProvider(
        app_id=settings.app_id,
        password=settings.app_password.get_secret_value(),
        tenant_id=settings.tenant_id,
        authority_host=settings.authority_host,
    )
    connector = BotConnector(tokens=tokens, allowed_hosts=settings.service_hosts)
    authenticator = BotAuthenticator(
        app_id=settings.app_id,
        now=host.runtime.clock.now,
        openid_metadata_url=settings.openid_metadata_url,
    )
    host.add_blueprint(blueprint(authenticator, Bot(host.runtime, settings, connector)))
    opener = Proactive(settings.app_id, settings.tenant_id, settings.service_url)
    host.add_channel(TeamsChannel(host.runtime, connector, opener))
    add_graph_features(host, settings, GraphClient(tokens=tokens, base_url=settings.graph_url))


def add_graph_features(host: PluginHost, settings: TeamsSettings, graph: GraphClient) -> None:
    """Meetings (TEAMS_MEETINGS) and free/busy (TEAMS_FREE_BUSY) through Graph, each opt-in."""
    if settings.meetings:
        host.add_channel(MeetingChannel(host.runtime, graph))
        host.add_route(meetings.route)
    if settings.free_busy:
        every = timedelta(minutes=settings.free_busy_minutes)
        host.add_timer("teams free/busy", FreeBusy(graph, every=every).refresh)
