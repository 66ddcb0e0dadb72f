"""The requester's side in Slack: /peer opens the modal; a submission becomes a request."""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.errors import PeerLineError
from core.schemas.programs import IntakeOut
from core.schemas.requests import RequestIn
from core.services import programs, requests, roster, slots
from integrations.slack import modals
from integrations.slack.settings import SlackSettings
from integrations.slack.workspaces import as_service, linked_program, service_ctx

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)
FORM_THREADS = 1  # per process; more shared the GIL with the answers and raised their p99
SLOT_SEARCH = timedelta(days=14)
NOT_LINKED = (
    "This Slack workspace is not linked to a PeerLine program yet. Please ask your "
    "program's admin. If you need help now, contact your local emergency number."
)
NOT_OPENED = (
    "Sorry, the request form could not be opened. Please try again in a moment. If you "
    "need help now, contact your local emergency number."
)


def register(bolt_app: App, runtime: Runtime, settings: SlackSettings) -> None:
    """The slash command and the modal's submission."""
    # The form is opened after the 200, on a pool of this process. Not a bolt lazy listener:
    # bolt deep-copies the whole request for one (about a fifth of /peer's CPU), and the
    # listener already holds all the form needs (the body, a client, response_url).
    after_ack = ThreadPoolExecutor(max_workers=FORM_THREADS, thread_name_prefix="peer-form")

    def acknowledge(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """Slack waits 3 s for this: by now the signature is checked and the request claimed."""
        ack()
        after_ack.submit(open_modal, body, client, respond)  # runs once this has answered

    def open_modal(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """After the 200: the program, then the modal; a failure is said."""
        try:
            said = _open_modal(runtime, settings, body, client)
        except Exception:  # whatever broke (the database, say), the person must hear of it
            log.exception("the /peer modal could not be opened")
            said = NOT_OPENED
        if said is not None:
            _tell(respond, said)

    bolt_app.command(settings.command)(acknowledge)

    @bolt_app.view(modals.CALLBACK_ID)
    def submit(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        parsed = modals.read_submission(view, body["user"]["id"])
        if not isinstance(parsed, RequestIn):
            ack(response_action="errors", errors=parsed)
        elif parsed.urgency == "scheduled":
            zone = _zone_of(client, body["user"]["id"], runtime, parsed.program)
            ack(response_action="update", view=_slot_view(runtime, parsed, zone))
        else:
            ack(**_create(runtime, parsed))

    @bolt_app.view(modals.SLOT_CALLBACK_ID)
    def book(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        parsed = modals.read_slot(view, body["user"]["id"])
        if not isinstance(parsed, RequestIn):
            ack(response_action="errors", errors=parsed)
            return
        answer = _create(runtime, parsed)
        if answer["response_action"] == "errors":
            answer["errors"] = {"slot": next(iter(answer["errors"].values()))}
        ack(**answer)


def _open_modal(
    runtime: Runtime, settings: SlackSettings, body: dict[str, Any], client: WebClient
) -> str | None:
    """None once the modal is open; else what to tell the person instead."""
    choices = modal_choices(runtime, settings, body.get("team_id"))
    if choices is None:
        return NOT_LINKED
    try:
        client.views_open(trigger_id=body["trigger_id"], view=modals.request_view(*choices))
    except SlackApiError as exc:  # the trigger expired (3 s) or the token is bad
        log.warning("could not open the request modal: %s", exc.response.get("error"))
        return NOT_OPENED
    return None


def modal_choices(
    runtime: Runtime, settings: SlackSettings, team_id: str | None
) -> tuple[IntakeOut, list[tuple[uuid.UUID, str]]] | None:
    """The linked program's intake and supporters, in one unit of work; None when unlinked."""
    ctx = runtime.system_ctx(read_only=True)  # on SQLite: no wait for /peer's claims
    with ctx.session:
        program = linked_program(ctx, settings, team_id)
        if program is None:
            return None
        service = as_service(ctx, program.id)
        return programs.intake_of(program), roster.public_aliases(service, program)  # read once


def _tell(respond: Respond, text: str) -> None:
    """Only the person who typed /peer sees it (response_url); a failure here is logged."""
    try:
        status = respond(text=text, response_type="ephemeral", replace_original=False).status_code
    except Exception as exc:  # a network error of any kind: nothing else can reach them now
        status, problem = None, type(exc).__name__
    else:
        problem = f"HTTP {status}"
    if status != 200:
        log.error("could not tell a /peer user the form failed (%s)", problem)


def _zone_of(client: WebClient, user_id: str, runtime: Runtime, slug: str) -> ZoneInfo:
    """The requester's Slack time zone, so times read as their clock does; else the program's."""
    try:
        name = client.users_info(user=user_id)["user"].get("tz")
        return ZoneInfo(str(name))
    except (SlackApiError, KeyError, TypeError, ValueError, ZoneInfoNotFoundError):
        ctx = service_ctx(runtime, slug)
        with ctx.session:
            return ZoneInfo(programs.get_program(ctx, slug).time_zone)


def _slot_view(runtime: Runtime, chosen: RequestIn, zone: ZoneInfo) -> dict[str, Any]:
    ctx = service_ctx(runtime, chosen.program)
    with ctx.session:
        program = programs.get_program(ctx, chosen.program)
        wanted = slots.SlotFilter(
            start=ctx.now,
            end=ctx.now + SLOT_SEARCH,
            topic=chosen.topic,
            language=chosen.language,
            mode=chosen.mode,
        )
        avoided = set(chosen.avoid_supporters)
        found = [f for f in slots.search(ctx, program, wanted) if f.supporter.id not in avoided]
        intake = programs.intake(ctx, chosen.program)
    options = [(f"{f.supporter.id}|{f.interval.start.isoformat()}", _label(f, zone)) for f in found]
    return modals.slot_view(intake, chosen, options, str(zone))


def _label(found: slots.FoundSlot, zone: ZoneInfo) -> str:
    start = found.interval.start.astimezone(zone)
    return f"{start:%a %-d %b, %H:%M} with {found.supporter.alias}"


def _create(runtime: Runtime, data: RequestIn) -> dict[str, Any]:
    """The answer to the submission: a confirmation screen, or errors on the inputs."""
    ctx = service_ctx(runtime, data.program)
    with ctx.session:
        try:
            request, _token = requests.create(ctx, data)
        except PeerLineError as error:
            return {
                "response_action": "errors",
                "errors": modals.field_error(error.field, error.message),
            }
        shown = requests.view(ctx, request)
        intake = programs.intake(ctx, data.program)
    return {"response_action": "update", "view": modals.confirmation_view(intake, shown)}
