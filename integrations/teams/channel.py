"""Messages to people in their 1:1 chat with the bot, through the Bot Connector."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.notify import kinds
from core.notify.plain import crisis_block, render
from core.notify.wording import chat_text, instant, zone_of
from core.ports import DeliveryResult, Notification
from core.services import chats, recipients
from integrations.teams import cards, offer_cards
from integrations.teams.connector import BotConnector, ConnectorError, result_of
from integrations.teams.conversations import Reference, reference_for, store, user_key

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)
REFUSED_FOR = timedelta(hours=1)


@dataclass(frozen=True)
class Proactive:
    """How to open a 1:1 chat with someone who never wrote to the bot."""

    bot_id: str
    tenant_id: str
    service_url: str = "https://smba.trafficmanager.net/teams/"


class TeamsChannel:
    """Reaches people who have a 1:1 chat with the bot (it is stored when they first write)."""

    name = "teams"

    def __init__(
        self, runtime: Runtime, connector: BotConnector, proactive: Proactive | None = None
    ) -> None:
        self._runtime = runtime
        self._connector = connector
        self._proactive = proactive
        self._refused: dict[str, datetime] = {}  # people Teams would not open a chat with
        self._refused_lock = threading.Lock()

    def can_reach(self, notification: Notification) -> bool:
        """Core kinds with a conversation on record; a card update only where the card went."""
        if notification.kind in offer_cards.UPDATES:
            return offer_cards.card_of(self._runtime, notification) is not None
        if notification.kind not in kinds.KINDS | chats.KINDS:
            return False
        aad_id = self._address(notification)
        if aad_id is None:
            return False
        return reference_for(self._runtime, aad_id) is not None or self._may_open(aad_id)

    def deliver(self, notification: Notification) -> DeliveryResult:
        """One plain-text message with the same wording as e-mail; faults become results."""
        card = offer_cards.card_of(self._runtime, notification)
        if card is not None:
            return self._refresh(notification, *card)
        reference = self._reference(notification)
        if reference is None:
            aad_id = self._address(notification)
            opened = self._open(aad_id) if aad_id else None
            if not isinstance(opened, Reference):
                return opened or DeliveryResult(
                    delivered=False, permanent=True, detail="no Teams chat on record"
                )
            reference = opened
        try:
            activity = _activity(notification)
        except (KeyError, ValueError, TypeError) as error:
            detail = f"cannot write a {notification.kind} Teams message ({type(error).__name__})"
            return DeliveryResult(delivered=False, permanent=True, detail=detail)
        try:
            sent = self._connector.send(reference.service_url, reference.conversation_id, activity)
        except ConnectorError as error:
            return result_of(error)
        if notification.kind == "offer_made":
            self._remember(notification, reference, sent)
        return DeliveryResult(delivered=True)

    def _remember(self, notification: Notification, reference: Reference, sent: str) -> None:
        """The card is out: failing to note where must not send it again."""
        try:
            offer_cards.remember(
                self._runtime,
                notification.dedupe_key,
                reference.service_url,
                reference.conversation_id,
                sent,
            )
        except Exception as error:
            log.warning("offer card sent but not recorded (%s)", type(error).__name__)

    def _refresh(
        self, notification: Notification, service_url: str, conversation: str, activity_id: str
    ) -> DeliveryResult:
        """'Taken' or 'expired': the card itself changes, so it can no longer be answered."""
        alias = str(notification.data.get("request_alias", ""))
        text = (
            f"Another supporter has taken {alias}'s request. Nothing to do."
            if notification.kind == "offer_taken"
            else f"The offer to talk with {alias} has expired."
        )
        activity = {"type": "message", "attachments": [cards.attachment(cards.said(text))]}
        try:
            self._connector.update(service_url, conversation, activity_id, activity)
        except ConnectorError as error:
            return result_of(error)
        return DeliveryResult(delivered=True)

    def _reference(self, notification: Notification) -> Reference | None:
        aad_id = self._address(notification)
        return reference_for(self._runtime, aad_id) if aad_id else None

    def _address(self, notification: Notification) -> str | None:
        ctx = self._runtime.system_ctx()
        with ctx.session:
            return recipients.address_of(ctx, notification, "teams")

    def _may_open(self, aad_id: str) -> bool:
        """Someone who never wrote to the bot: try to open the 1:1 chat now.

        Teams refuses (403) when the app is not installed for the person; then this channel
        does not reach them for an hour and the message goes to the next channel (e-mail).
        A passing fault counts as reachable: delivery retries the opening.
        """
        if self._proactive is None:
            return False
        key = user_key(self._runtime, aad_id)
        now = self._runtime.clock.now()
        with self._refused_lock:
            until = self._refused.get(key)
            if until is not None and until > now:
                return False
        opened = self._open(aad_id)
        if isinstance(opened, DeliveryResult) and opened.permanent:
            log.warning("Teams cannot reach a recipient (%s)", opened.detail)
            with self._refused_lock:
                self._refused[key] = now + REFUSED_FOR
            return False
        return True

    def _open(self, aad_id: str) -> Reference | DeliveryResult:
        """Open the bot's 1:1 chat with a person (the app must be installed for them)."""
        if self._proactive is None:
            return DeliveryResult(delivered=False, permanent=True, detail="no Teams chat on record")
        how = self._proactive
        try:
            opened = self._connector.create_conversation(
                how.service_url, how.bot_id, aad_id, how.tenant_id
            )
        except ConnectorError as error:
            if error.permanent:  # e.g. 403: the app is not installed for this person
                error.reason = f"could not open a Teams chat ({error.reason})"
            return result_of(error)
        reference = Reference(opened, how.service_url, how.tenant_id)
        store(self._runtime, aad_id, reference)
        return reference


def _activity(notification: Notification) -> dict[str, Any]:
    """An offer is a card with Accept / Decline; everything else the core's wording as text."""
    if notification.kind in chats.KINDS:
        return _chat_activity(notification)
    content = render(notification)
    text = "\n\n".join([content.subject, *content.paragraphs, *_safety(notification)])
    activity: dict[str, Any] = {"type": "message", "textFormat": "plain", "text": text}
    if notification.kind == "feedback_prompt" and notification.request_id is not None:
        card = cards.feedback_card(
            str(notification.request_id), notification.data["supporter_alias"]
        )
        activity["attachments"] = [cards.attachment(card)]
    if notification.kind == "offer_made":
        d = notification.data
        until = instant(d["expires_at"]).astimezone(zone_of(d)).strftime("%a %-d %b, %H:%M")
        offer_id = notification.dedupe_key.split(":", 1)[1]
        card = cards.offer_card(offer_id, d["request_alias"], d["topic"], d["mode"], until)
        activity["attachments"] = [cards.attachment(card)]
    return activity


def _chat_activity(notification: Notification) -> dict[str, Any]:
    """A relayed chat's start (with its card), a line, or its end, as plain text."""
    d = notification.data
    text = chat_text(notification.kind, notification.audience, d)
    if notification.kind != "relay_line":
        text = "\n\n".join([text, *_safety(notification)])
    activity: dict[str, Any] = {"type": "message", "textFormat": "plain", "text": text}
    if notification.kind == "relay_started" and notification.request_id is not None:
        mine = "requester" if notification.audience == "requester" else "supporter"
        other = d["supporter_alias"] if mine == "requester" else d["requester_alias"]
        card = cards.chat_card(str(notification.request_id), other)
        activity["attachments"] = [cards.attachment(card)]
    return activity


def _safety(notification: Notification) -> list[str]:
    """A requester's message ends with what this is not and who can help now."""
    crisis = crisis_block(notification)
    if crisis is None:
        return []
    lines = [
        f"- {r['name']}: {r['contact']}" + (f" ({r['url']})" if r["url"] else "")
        for r in crisis["resources"]
    ]
    return [crisis["not_a_crisis"], "\n".join(lines)] if lines else [crisis["not_a_crisis"]]
