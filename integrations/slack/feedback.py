"""Feedback from Slack: the prompt's button opens a modal; the rating is stored unlinked."""

from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.errors import PeerLineError
from core.schemas.requests import MAX_NOTE_CHARS, FeedbackIn
from core.services import identities, programs, requests
from core.services.access import Ctx, Principal
from integrations.slack.blocks import FEEDBACK
from integrations.slack.settings import SlackSettings
from integrations.slack.workspaces import program_slug, service_ctx

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)
CALLBACK_ID = "peer_feedback"
RATINGS = (("5", "5 - very helpful"), ("4", "4"), ("3", "3"), ("2", "2"), ("1", "1 - not helpful"))


def register(bolt_app: App, runtime: Runtime, settings: SlackSettings) -> None:
    """The button on the feedback prompt, and the modal's submission."""

    @bolt_app.action(FEEDBACK)
    def open_form(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        value = str(body["actions"][0].get("value", ""))
        try:
            client.views_open(trigger_id=body["trigger_id"], view=feedback_view(value))
        except SlackApiError as exc:
            log.warning("could not open the feedback form: %s", exc.response.get("error"))

    @bolt_app.view(CALLBACK_ID)
    def submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        slug = program_slug(runtime, settings, (body.get("team") or {}).get("id"))
        said = _store(runtime, slug, body["user"]["id"], view) if slug else "Not linked."
        if isinstance(said, dict):
            ack(response_action="errors", errors=said)
        else:
            ack(response_action="update", view=_done(said))


def feedback_view(request_id: str) -> dict[str, Any]:
    """A rating from 1 to 5 and an optional comment; the request id rides along, unseen."""
    options = [{"text": {"type": "plain_text", "text": label}, "value": v} for v, label in RATINGS]
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": json.dumps({"request": request_id}),
        "title": {"type": "plain_text", "text": "Your feedback"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "rating",
                "label": {"type": "plain_text", "text": "How helpful was the chat?"},
                "element": {"type": "radio_buttons", "action_id": "rating", "options": options},
            },
            {
                "type": "input",
                "block_id": "comment",
                "optional": True,
                "label": {"type": "plain_text", "text": "Anything to add? (optional, anonymous)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "comment",
                    "multiline": True,
                    "max_length": MAX_NOTE_CHARS,
                },
            },
        ],
    }


def _store(runtime: Runtime, slug: str, user_id: str, view: dict[str, Any]) -> str | dict[str, str]:
    """Feedback only for one's own completed request, once; the rating keeps no link to it."""
    values = view.get("state", {}).get("values", {})
    rating = (values.get("rating", {}).get("rating") or {}).get("selected_option") or {}
    comment = (values.get("comment", {}).get("comment") or {}).get("value")
    try:
        data = FeedbackIn.model_validate_json(
            json.dumps({"rating": int(rating.get("value", 0)), "comment": comment})
        )
        request_id = uuid.UUID(json.loads(view.get("private_metadata") or "{}")["request"])
    except (ValidationError, ValueError, KeyError):
        return {"rating": "Choose a rating from 1 to 5"}
    ctx = _requester_ctx(runtime, slug, user_id, request_id)
    if ctx is None:
        return "That chat could not be found."
    with ctx.session:
        try:
            requests.give_feedback(ctx, request_id, data)
        except PeerLineError as error:
            return error.message[:1].upper() + error.message[1:] + "."
    return "Thank you. Your feedback helps the program, and nobody can link it to you."


def _requester_ctx(runtime: Runtime, slug: str, user_id: str, request_id: uuid.UUID) -> Ctx | None:
    """Acting as the requester only after checking the request is this Slack user's own."""
    lookup = service_ctx(runtime, slug)
    with lookup.session:
        program_id = programs.get_program(lookup, slug).id
        mine = {r.id for r in identities.requests_of(lookup, program_id, "slack", user_id)}
    if request_id not in mine:
        return None
    principal = Principal(role="requester", program_id=program_id, request_id=request_id)
    return Ctx(runtime.session_factory(), principal, runtime.clock.now(), runtime.cipher)


def _done(said: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "peer_feedback_done",
        "title": {"type": "plain_text", "text": "Your feedback"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "plain_text", "text": said}}],
    }
