"""`POST /api/messages`: every activity's token checked first, then the activity handled."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request

from core.errors import NotFound
from core.schemas.programs import NOT_A_CRISIS_SERVICE, CrisisResourceOut
from core.services import programs
from integrations.teams import actions, booking, cards, relay
from integrations.teams.auth import BotAuthenticator, BotAuthError
from integrations.teams.connector import BotConnector, ConnectorError
from integrations.teams.conversations import remember
from integrations.teams.replay import ActivityLedger, activity_key
from integrations.teams.settings import TeamsSettings

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)
NOT_LINKED = "This Teams app is not linked to a peer support program yet."
ALREADY_HANDLED = "This was received already; it was not done a second time."


class Bot:
    """What the bot does with an activity that passed authentication."""

    def __init__(self, runtime: Runtime, settings: TeamsSettings, connector: BotConnector) -> None:
        self.runtime, self.settings, self.connector = runtime, settings, connector

    def handle(self, activity: dict[str, Any]) -> Response:
        remember(self.runtime, activity)  # so the bot can write first later (offers, reminders)
        kind = activity.get("type")
        if kind == "conversationUpdate" and self._user_joined(activity):
            self._welcome(activity)
        elif kind == "invoke" and activity.get("name") == "adaptiveCard/action":
            card = self._act(activity, *_executed(activity))
            return jsonify(cards.invoke_response(card))
        elif kind == "message" and self._personal(activity):
            submitted = activity.get("value")
            if isinstance(submitted, dict):  # the Action.Submit fallback of an older client
                self._reply(
                    activity, self._act(activity, str(submitted.get("verb", "")), submitted)
                )
            elif not self._relayed(activity):
                self._reply(activity, self._form())
        return Response(status=200)

    def _relayed(self, activity: dict[str, Any]) -> bool:
        """A line for the writer's running chat, if they are in one; they hear of any trouble."""
        slug = actions.program_slug(self.runtime, self.settings.program)
        aad_id = str((activity.get("from") or {}).get("aadObjectId") or "")
        if slug is None or not aad_id:
            return False
        handled, answer = relay.on_message(
            actions.service_ctx(self.runtime, slug), aad_id, activity
        )
        if answer is not None:
            self._say(activity, answer)
        return handled

    def _act(self, activity: dict[str, Any], verb: str, data: dict[str, Any]) -> cards.Card:
        slug = actions.program_slug(self.runtime, self.settings.program)
        aad_id = str((activity.get("from") or {}).get("aadObjectId") or "")
        if slug is None or not aad_id:
            return cards.said("This Teams app is not linked to a peer support program yet.")
        zone = booking.client_zone(activity)
        if verb == "peer_request" and data.get("when") == "scheduled":
            verb = "book_times"  # the form's "Book a time" leads to the free times
        if verb == "book_times":
            return booking.times(self.runtime, slug, data, zone)
        if verb == "peer_request":
            return actions.ask(self.runtime, slug, aad_id, data)
        if verb == "book_slot":
            return booking.book(self.runtime, slug, aad_id, data, zone)
        if verb == "my_bookings":
            return booking.mine(self.runtime, slug, aad_id, zone)
        if verb == "cancel_booking":
            return booking.cancel(self.runtime, slug, aad_id, data, zone)
        if verb in ("relay_send", "relay_end"):
            ctx = actions.service_ctx(self.runtime, slug)
            if verb == "relay_end":
                return relay.end(ctx, aad_id, data)
            return relay.reply(ctx, aad_id, data, str(activity.get("id") or uuid.uuid4()))
        if verb == "feedback":
            return actions.feedback(self.runtime, slug, aad_id, data)
        if verb in ("offer_accept", "offer_decline"):
            return actions.answer_offer(self.runtime, slug, aad_id, verb, str(data.get("offer_id")))
        return self._form()

    def _form(self) -> cards.Card:
        slug = actions.program_slug(self.runtime, self.settings.program)
        return actions.form(self.runtime, slug) if slug else cards.said(NOT_LINKED)

    def _personal(self, activity: dict[str, Any]) -> bool:
        conversation = activity.get("conversation") or {}
        return conversation.get("conversationType") in (None, "personal")

    def _reply(self, activity: dict[str, Any], card: cards.Card) -> None:
        self._send(activity, {"type": "message", "attachments": [cards.attachment(card)]})

    def _say(self, activity: dict[str, Any], text: str) -> None:
        self._send(activity, {"type": "message", "textFormat": "plain", "text": text})

    def _send(self, activity: dict[str, Any], message: dict[str, Any]) -> None:
        conversation = str((activity.get("conversation") or {}).get("id") or "")
        try:
            self.connector.send(str(activity.get("serviceUrl") or ""), conversation, message)
        except ConnectorError as error:
            log.warning("could not answer in Teams (%s)", error.reason)

    def _user_joined(self, activity: dict[str, Any]) -> bool:
        bot_id = (activity.get("recipient") or {}).get("id")
        return any(m.get("id") != bot_id for m in activity.get("membersAdded") or [])

    def _welcome(self, activity: dict[str, Any]) -> None:
        """On install: what this is and is not, and who can help right now."""
        conversation = (activity.get("conversation") or {}).get("id")
        if not conversation or (activity.get("conversation") or {}).get("conversationType") not in (
            None,
            "personal",
        ):
            return
        message = {
            "type": "message",
            "textFormat": "plain",
            "text": self._welcome_text(),
            "attachments": [cards.attachment(self._form())],
        }
        try:
            self.connector.send(str(activity["serviceUrl"]), str(conversation), message)
        except ConnectorError as error:
            log.warning("could not send the Teams welcome (%s)", error.reason)

    def _welcome_text(self) -> str:
        ctx = self.runtime.system_ctx()
        with ctx.session:
            slug = actions.program_slug(self.runtime, self.settings.program)
            try:
                intake = programs.intake(ctx, slug or "")
                notice, resources = intake.notice, intake.crisis_resources
            except NotFound:
                notice = NOT_A_CRISIS_SERVICE
                resources = [CrisisResourceOut(**r) for r in programs.DEFAULT_CRISIS_RESOURCES]
        lines = [
            "Hello. PeerLine connects you with a trained peer supporter for a confidential "
            "chat. Supporters see an alias, never your name.",
            notice,
            *(f"- {r.name}: {r.contact}" for r in resources),
        ]
        return "\n\n".join(lines)


def _executed(activity: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The verb and data of an Action.Execute; anything malformed reads as no action."""
    value = activity.get("value")
    action = value.get("action") if isinstance(value, dict) else None
    if not isinstance(action, dict):
        return "", {}
    data = action.get("data")
    return str(action.get("verb", "")), data if isinstance(data, dict) else {}


def blueprint(authenticator: BotAuthenticator, bot: Bot) -> Blueprint:
    """Nothing is read, stored or answered before the token checks out; each activity once."""
    bp = Blueprint("teams", __name__)
    ledger = ActivityLedger(bot.runtime)

    @bp.post("/api/messages")
    def messages() -> Response | tuple[Response, int]:
        activity = request.get_json(silent=True)
        if not isinstance(activity, dict):
            return jsonify(
                {"error": {"code": "bad_request", "message": "an activity is JSON"}}
            ), 400
        try:
            claims = authenticator.verify(request.headers.get("Authorization"), activity)
        except BotAuthError as error:
            log.info("Teams activity refused: %s", error.reason)
            return jsonify({"error": {"code": "unauthorized", "message": "unauthorized"}}), 401
        key = activity_key(activity)
        if key is None:
            return bot.handle(activity)
        if not ledger.claim(key, claims):
            log.info("Teams activity delivered again: not handled again")
            return _handled_already(activity)
        try:
            return bot.handle(activity)
        except Exception:
            ledger.forget(key)  # the Connector's retry of it runs again
            raise

    return bp


def _handled_already(activity: dict[str, Any]) -> Response:
    """A card action pressed once must get a card back; anything else just an OK."""
    if activity.get("type") == "invoke" and activity.get("name") == "adaptiveCard/action":
        return jsonify(cards.invoke_response(cards.said(ALREADY_HANDLED)))
    return Response(status=200)
