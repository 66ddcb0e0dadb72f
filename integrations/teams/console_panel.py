"""The Teams box on the console's Integrations page: the bot's public settings, no password."""

from __future__ import annotations

from core.console.integrations import (
    Download,
    NotReady,
    PanelInfo,
    PanelProgram,
    add_download,
    add_panel,
    download_url,
)
from core.plugins import PluginHost
from core.services.access import Ctx
from integrations.teams.manifest import package
from integrations.teams.settings import TeamsSettings

TITLE = "Microsoft Teams"
MESSAGING_PATH = "/api/messages"
PACKAGE = "teams-app"


def register(host: PluginHost, settings: TeamsSettings) -> None:
    """Called from the plugin's hook, whether or not the bot is configured."""
    public_url = host.runtime.settings.public_url

    def panel(_ctx: Ctx, program: PanelProgram) -> PanelInfo:
        return teams_panel(settings, public_url, program)

    def app_package(_ctx: Ctx, _program: PanelProgram) -> Download:
        return Download("peerline-teams.zip", "application/zip", package_for(settings, public_url))

    add_panel(host.app, panel)
    add_download(host.app, PACKAGE, app_package)


def package_for(settings: TeamsSettings, public_url: str | None) -> bytes:
    """The app package, or NotReady saying what is missing (the same checks as the CLI)."""
    if not settings.configured or not settings.app_id:
        raise NotReady("the Teams bot is not configured (TEAMS_APP_ID and the rest).")
    url = (public_url or "").rstrip("/")
    if not url.startswith("https://"):
        raise NotReady("PEERLINE_PUBLIC_URL must be this service's https address for Teams.")
    return package(settings.app_id, url)


def teams_panel(
    settings: TeamsSettings, public_url: str | None, program: PanelProgram
) -> PanelInfo:
    """The bot id and messaging endpoint to enter in Azure, and how to get the app package."""
    endpoint = public_url.rstrip("/") if public_url else "https://<your PeerLine address>"
    endpoint += MESSAGING_PATH
    upload = "Upload the app package in the Teams admin center (Manage apps, Upload an app)."
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
        links=(("Download the Teams app package", download_url(program, PACKAGE)),),
        notes=(upload,),
    )
