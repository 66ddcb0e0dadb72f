"""The LMS box on the console's Integrations page: LTI registration details and sync status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import request

from core.console.integrations import PanelInfo, PanelProgram, add_panel
from core.plugins import PluginHost
from core.services.access import Ctx
from lms.lti.platforms import Platform, all_platforms
from lms.lti.tool import ToolUrls
from lms.sync.canvas_tokens import CanvasConnections
from lms.sync.program import program_for
from lms.sync.settings import SyncSettings, load_sync_settings

if TYPE_CHECKING:
    from core.runtime import Runtime

TITLE = "LMS (LTI 1.3 and calendar sync)"


def register(host: PluginHost) -> None:
    """Called from the plugin's hook; reads the same LMS_* settings the sync was set up with."""
    runtime, settings = host.runtime, load_sync_settings()

    def panel(_ctx: Ctx, program: PanelProgram) -> PanelInfo:
        return lms_panel(runtime, settings, program)

    add_panel(host.app, panel)


def lms_panel(runtime: Runtime, settings: SyncSettings, program: PanelProgram) -> PanelInfo:
    """What an LMS admin enters, which platforms launch this program, and the sync state."""
    urls = ToolUrls(runtime.settings.public_url or request.host_url)
    mine = [p for p in all_platforms(runtime) if p.program_id == program.id]
    rows = [
        ("Login (OIDC initiation) URL", urls.login),
        ("Launch (redirect) URL", urls.launch),
        ("Public keys (JWKS) URL", urls.jwks),
        ("Dynamic Registration URL", urls.register),
        ("Platforms registered", str(len(mine)) if mine else "None yet"),
        *(_platform_row(p) for p in mine),
        ("Canvas calendar", _canvas(runtime, settings, program)),
        ("Moodle calendar", _moodle(runtime, settings, program)),
    ]
    return PanelInfo(
        TITLE,
        rows=tuple(rows),
        notes=(
            "Register with the Dynamic Registration URL, or with `peerline lti register`. "
            "PeerLine asks the LMS for no names or e-mail addresses.",
        ),
    )


def _platform_row(platform: Platform) -> tuple[str, str]:
    product = f" ({platform.product})" if platform.product else ""
    deployments = len(platform.deployments)
    return (
        f"Platform{product}",
        f"{platform.issuer}, client {platform.client_id}, {deployments} deployment(s)",
    )


def _canvas(runtime: Runtime, settings: SyncSettings, program: PanelProgram) -> str:
    if not settings.canvas:
        return "Not configured (LMS_CANVAS_URL, _CLIENT_ID, _CLIENT_SECRET, _COURSE)"
    if not _serves(runtime, settings.canvas_program, program):
        return "Configured for another program"
    status = CanvasConnections(runtime).status(program.id)
    if status["connected"]:
        return f"Connected to {settings.canvas_url}"
    reason = status.get("detail") or "an admin connects it once through /lms/canvas/connect"
    return f"Not connected: {reason}"


def _moodle(runtime: Runtime, settings: SyncSettings, program: PanelProgram) -> str:
    if not settings.moodle:
        return "Not configured (LMS_MOODLE_URL and LMS_MOODLE_TOKEN)"
    if not _serves(runtime, settings.moodle_program, program):
        return "Configured for another program"
    return f"Configured: {settings.moodle_url}"


def _serves(runtime: Runtime, configured: str | None, program: PanelProgram) -> bool:
    """Whether the sync's program (named, else the only school program) is this one."""
    ctx = runtime.system_ctx()
    with ctx.session:
        served = program_for(ctx, configured)
    return served is not None and served.id == program.id
