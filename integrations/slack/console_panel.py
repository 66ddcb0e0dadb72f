"""The Slack box on the console's Integrations page: how to install, and which workspaces are in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from core.console.integrations import PanelInfo, PanelProgram, add_panel
from core.plugins import PluginHost
from core.services.access import Ctx
from integrations.slack import workspaces
from integrations.slack.oauth import INSTALL_PATH
from integrations.slack.settings import SlackSettings
from integrations.slack.storage import WORKSPACES

if TYPE_CHECKING:
    from core.runtime import Runtime

TITLE = "Slack"


def register(host: PluginHost, settings: SlackSettings) -> None:
    """Called from the plugin's hook, whether or not Slack is configured."""
    runtime = host.runtime

    def panel(_ctx: Ctx, program: PanelProgram) -> PanelInfo:
        return slack_panel(runtime, settings, program)

    add_panel(host.app, panel)


def slack_panel(runtime: Runtime, settings: SlackSettings, program: PanelProgram) -> PanelInfo:
    """What an admin needs: the mode, the install link and the linked workspaces; no token."""
    if settings.oauth:
        teams = linked_workspaces(runtime, program)
        return PanelInfo(
            TITLE,
            rows=(
                ("Mode", "Workspaces install the app themselves (OAuth)"),
                ("Slash command", settings.command),
                ("Workspaces installed", ", ".join(teams) if teams else "None yet"),
            ),
            links=(("Add to Slack", INSTALL_PATH),),
            notes=("Install from a workspace admin's browser; it is then linked to this program.",),
        )
    if settings.single_workspace:
        serves = workspaces.program_slug(runtime, settings, None)
        installed = "Yes (one workspace, by bot token)" if serves == program.slug else "No"
        return PanelInfo(
            TITLE,
            rows=(
                ("Mode", "One workspace (bot token)"),
                ("Slash command", settings.command),
                ("Installed for this program", installed),
            ),
            notes=("Requests from Slack reach the program SLACK_PROGRAM names.",),
        )
    return PanelInfo(
        TITLE,
        rows=(("Status", "Not configured"),),
        notes=(
            "Set SLACK_SIGNING_SECRET with SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (workspaces "
            "install through 'Add to Slack') or with SLACK_BOT_TOKEN (one workspace).",
        ),
    )


def linked_workspaces(runtime: Runtime, program: PanelProgram) -> list[str]:
    """Team ids of the workspaces linked to this program (ids only: names are not stored)."""
    query = (
        select(WORKSPACES.c.team_id)
        .where(WORKSPACES.c.program_id == program.id)
        .order_by(WORKSPACES.c.team_id)
    )
    with runtime.engine.connect() as connection:
        return list(connection.scalars(query))
