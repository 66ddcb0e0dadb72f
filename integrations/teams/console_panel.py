"""The Teams box on the console's Integrations page: the bot's public settings, no password."""

from __future__ import annotations

from core.console.integrations import PanelInfo, PanelProgram, add_panel
from core.plugins import PluginHost
from core.services.access import Ctx
from integrations.teams.settings import TeamsSettings

TITLE = "Microsoft Teams"
MESSAGING_PATH = "/api/messages"


def register(host: PluginHost, settings: TeamsSettings) -> None:
    """Called from the plugin's hook, whether or not the bot is configured."""
    public_url = host.runtime.settings.public_url

    def panel(_ctx: Ctx, program: PanelProgram) -> PanelInfo:
        return teams_panel(settings, public_url, program)

    add_panel(host.app, panel)


def teams_panel(
    settings: TeamsSettings, public_url: str | None, program: PanelProgram
) -> PanelInfo:
    """The bot id and messaging endpoint to enter in Azure, and how to get the app package."""
    endpoint = public_url.rstrip("/") if public_url else "https://<your PeerLine address>"
    endpoint += MESSAGING_PATH
    package = (
        "The app package cannot be downloaded here yet: run `peerline teams manifest` on the "
        "server and upload the zip in the Teams admin center (Manage apps, Upload)."
    )
    if not settings.configured:
        return PanelInfo(
            TITLE,
            rows=(("Status", "Not configured"), ("Messaging endpoint", endpoint)),
            notes=("Set TEAMS_APP_ID, TEAMS_APP_PASSWORD and TEAMS_TENANT_ID to turn the bot on.",),
        )
    serves = settings.program or "the only workplace program"
    return PanelInfo(
        TITLE,
        rows=(
            ("Status", "Bot configured"),
            ("Bot (Microsoft app) id", settings.app_id or ""),
            ("Messaging endpoint", endpoint),
            ("Requests go to", serves),
            ("Teams meetings for video sessions", "On" if settings.meetings else "Off"),
            ("Outlook free/busy", "On" if settings.free_busy else "Off"),
        ),
        notes=(package,),
    )
