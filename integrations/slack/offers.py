"""The supporter's side in Slack: Accept / Decline on an offer card, as that supporter."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.errors import AlreadyTaken, PeerLineError
from core.services import matching, programs, roster
from core.services.access import Ctx, Principal
from integrations.slack.modals import escape
from integrations.slack.settings import SlackSettings
from integrations.slack.workspaces import program_slug, service_ctx

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)
NOT_A_SUPPORTER = "You are not on this program's supporter roster, so you cannot take offers."


def register(bolt_app: App, runtime: Runtime, settings: SlackSettings) -> None:
    """Accept and Decline buttons; each answers by rewriting the card that was clicked."""

    @bolt_app.action("offer_accept")
    def accept(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _answer(runtime, settings, body, client, accepting=True)

    @bolt_app.action("offer_decline")
    def decline(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _answer(runtime, settings, body, client, accepting=False)


def _answer(
    runtime: Runtime,
    settings: SlackSettings,
    body: dict[str, Any],
    client: WebClient,
    *,
    accepting: bool,
) -> None:
    slug = program_slug(runtime, settings, (body.get("team") or {}).get("id"))
    offer_id = _offer_id(body)
    ctx = _supporter_ctx(runtime, slug, body["user"]["id"]) if slug else None
    if ctx is None or offer_id is None:
        _rewrite(client, body, NOT_A_SUPPORTER)
        return
    with ctx.session:
        try:
            if accepting:
                _offer, request = matching.accept(ctx, offer_id)
                said = f"You accepted. *{escape(request.alias)}* will hear from you here soon."
            else:
                matching.decline(ctx, offer_id)
                said = "You declined this one. Thank you for saying so; it goes to someone else."
        except AlreadyTaken:
            said = "Another supporter took this one already. Thank you for being there."
        except PeerLineError as error:
            said = escape(error.message[:1].upper() + error.message[1:]) + "."
    _rewrite(client, body, said)


def _offer_id(body: dict[str, Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(body["actions"][0]["value"])
    except (KeyError, IndexError, ValueError):
        return None


def _supporter_ctx(runtime: Runtime, slug: str, user_id: str) -> Ctx | None:
    """A unit of work as the supporter behind this Slack user, or None if there is none."""
    lookup = service_ctx(runtime, slug)
    with lookup.session:
        program = programs.get_program(lookup, slug)
        supporter = roster.find_by_contact(lookup, program.id, "slack", user_id)
    if supporter is None:
        return None
    principal = Principal(role="supporter", program_id=program.id, supporter_id=supporter.id)
    return Ctx(
        session=runtime.session_factory(),
        principal=principal,
        now=runtime.clock.now(),
        cipher=None,
    )


def _rewrite(client: WebClient, body: dict[str, Any], said: str) -> None:
    """Replace the buttons with what happened, so a card cannot be answered twice."""
    channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get(
        "id"
    )
    ts = (body.get("container") or {}).get("message_ts")
    if not channel or not ts:
        return
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": said}}]
    try:
        client.chat_update(channel=channel, ts=ts, text=said, blocks=blocks)
    except SlackApiError as exc:
        log.warning("could not update an offer card: %s", exc.response.get("error"))
