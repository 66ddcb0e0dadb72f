"""Connecting Canvas once: an admin's grant through Canvas's OAuth2, and its status.

    GET /lms/canvas/connect   (an admin's API token) -> 302 to Canvas's consent page
    GET /lms/canvas/callback  Canvas comes back with a code, exchanged for tokens here
    GET /lms/canvas/status    (an admin's API token) -> connected, or why not

Whoever consents becomes the account PeerLine acts as in Canvas, so only an admin of the
program (or of the deployment) may start; the `state` is sealed with the deployment's keys,
names the program and lasts ten minutes.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from flask import Blueprint, Response, jsonify, redirect, request, url_for
from werkzeug.wrappers import Response as Redirect

from core.errors import Forbidden, NotFound, Unauthorized
from core.services import audit, tokens
from lms.sync.canvas_tokens import CanvasError, CanvasTokens
from lms.sync.program import ProgramRef, program_for
from lms.sync.settings import SyncSettings

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)
STATE_TTL = timedelta(minutes=10)


def blueprint(runtime: Runtime, settings: SyncSettings, tokens: CanvasTokens) -> Blueprint:
    bp = Blueprint("lms_canvas", __name__, url_prefix="/lms/canvas")

    @bp.get("/connect")
    def connect() -> Redirect:
        program = _admins_program(runtime, settings)
        state = _seal(runtime, program.id)
        return redirect(tokens.oauth.authorize_url(state, _callback_url(runtime)))

    @bp.get("/callback")
    def callback() -> tuple[str, int, dict[str, str]]:
        if request.args.get("error"):
            return _page("Canvas was not connected: the consent was declined.", 400)
        program_id = _unseal(runtime, request.args.get("state", ""))
        if program_id is None:
            return _page("This link has expired or is not valid. Start again from /connect.", 400)
        try:
            grant = tokens.oauth.exchange(request.args.get("code", ""), _callback_url(runtime))
        except CanvasError as error:
            log.warning("Canvas connection failed: %s", error.reason)
            return _page(f"Canvas was not connected: {error.reason}.", 502)
        assert grant.refresh_token is not None
        tokens.connections.save(program_id, grant.refresh_token)
        tokens.remember(program_id, grant)
        ctx = runtime.system_ctx()
        with ctx.session:
            audit.record(ctx, program_id, "lms.canvas_connected", "program", program_id)
            ctx.session.commit()
        return _page("Canvas is connected. You can close this window.", 200)

    @bp.get("/status")
    def status() -> Response:
        program = _admins_program(runtime, settings)
        return jsonify({"program": program.slug, **tokens.connections.status(program.id)})

    return bp


def _admins_program(runtime: Runtime, settings: SyncSettings) -> ProgramRef:
    """The Canvas program, if the caller's API token is an admin's of it (or the deployment's)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    ctx = runtime.system_ctx()
    with ctx.session:
        principal = tokens.api_caller(ctx.session, token.strip())
        program = program_for(ctx, settings.canvas_program)
    if scheme.lower() != "bearer" or principal is None:
        raise Unauthorized("this needs an admin's API token: 'Authorization: Bearer <token>'")
    if principal.role != "admin":
        raise Forbidden(f"the {principal.role} role may not connect Canvas")
    if program is None or principal.program_id not in (None, program.id):
        # another program's admin learns nothing of the Canvas program, not even that it exists
        raise NotFound("no Canvas program for this token: set LMS_CANVAS_PROGRAM", field="program")
    return program


def _callback_url(runtime: Runtime) -> str:
    """The redirect URI, exactly as registered on the developer key."""
    public = runtime.settings.public_url
    if public:
        return public.rstrip("/") + "/lms/canvas/callback"
    return url_for("lms_canvas.callback", _external=True)


def _seal(runtime: Runtime, program_id: uuid.UUID) -> str:
    made = runtime.clock.now().timestamp()
    payload = {"p": str(program_id), "t": made, "n": uuid.uuid4().hex}
    return runtime.cipher.encrypt(json.dumps(payload)).decode()


def _unseal(runtime: Runtime, state: str) -> uuid.UUID | None:
    try:
        payload = json.loads(runtime.cipher.decrypt(state.encode()))
        made = datetime.fromtimestamp(float(payload["t"]), UTC)
        program_id = uuid.UUID(str(payload["p"]))
    except (ValueError, KeyError, TypeError):
        return None
    now = runtime.clock.now()
    return program_id if now - STATE_TTL <= made <= now + timedelta(minutes=1) else None


def _page(message: str, status: int) -> tuple[str, int, dict[str, str]]:
    return message + "\n", status, {"Content-Type": "text/plain; charset=utf-8"}
