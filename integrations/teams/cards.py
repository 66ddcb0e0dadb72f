"""Adaptive Cards: the request form and offer cards, with an Action.Submit fallback each."""

from __future__ import annotations

from typing import Any

from core.schemas.programs import IntakeOut
from core.schemas.requests import MAX_NOTE_CHARS

CARD = "application/vnd.microsoft.card.adaptive"
MODES = {"text": "Text chat", "video": "Video call", "in_person": "In person"}
Card = dict[str, Any]


def _action(verb: str, title: str, data: dict[str, Any], style: str | None = None) -> Card:
    """Action.Execute (Teams answers in the same response), Action.Submit where unsupported."""
    payload = {"verb": verb, **data}
    action: Card = {"type": "Action.Execute", "verb": verb, "title": title, "data": payload}
    action["fallback"] = {"type": "Action.Submit", "title": title, "data": payload}
    if style:
        action["style"] = style
    return action


def _card(body: list[Card], actions: list[Card] | None = None) -> Card:
    card: Card = {"type": "AdaptiveCard", "version": "1.4", "body": body}
    if actions:
        card["actions"] = actions
    return card


def safety(intake: IntakeOut) -> list[Card]:
    """The notice and the resources, on every card a requester sees."""
    facts = [{"title": r.name, "value": r.contact} for r in intake.crisis_resources]
    return [
        {"type": "TextBlock", "text": intake.notice, "wrap": True, "weight": "Bolder"},
        {"type": "FactSet", "facts": facts},
    ]


def _choices(input_id: str, label: str, pairs: list[tuple[str, str]]) -> Card:
    return {
        "type": "Input.ChoiceSet",
        "id": input_id,
        "label": label,
        "isRequired": True,
        "errorMessage": f"Choose {label.lower()}",
        "value": pairs[0][0] if len(pairs) == 1 else None,
        "choices": [{"title": title, "value": value} for value, title in pairs],
    }


def request_form(intake: IntakeOut) -> Card:
    """Talk now: topic, mode, language and an optional note (booking a time: the web page)."""
    body = [
        {"type": "TextBlock", "text": "Talk to a peer", "size": "Large", "weight": "Bolder"},
        *safety(intake),
        _choices("topic", "Topic", [(t, t) for t in intake.topics]),
        _choices("mode", "How", [(m, MODES.get(m, m)) for m in intake.modes]),
        _choices("language", "Language", [(code, code) for code in intake.languages]),
        {
            "type": "Input.Text",
            "id": "note",
            "label": "Anything the supporter should know? (optional; only they read it)",
            "isMultiline": True,
            "maxLength": MAX_NOTE_CHARS,
        },
    ]
    return _card(body, [_action("peer_request", "Ask for a chat now", {})])


def said(text: str, intake: IntakeOut | None = None) -> Card:
    """A card that only tells something (after an answer), with the resources for requesters."""
    body: list[Card] = [{"type": "TextBlock", "text": text, "wrap": True}]
    return _card(body + (safety(intake) if intake is not None else []))


def offer_card(offer_id: str, alias: str, topic: str, mode: str, until: str) -> Card:
    """What a supporter is asked: by alias only, with Accept and Decline."""
    body: list[Card] = [
        {
            "type": "TextBlock",
            "text": "New peer chat request",
            "weight": "Bolder",
            "size": "Medium",
        },
        {
            "type": "FactSet",
            "facts": [
                {"title": "Who", "value": alias},
                {"title": "Topic", "value": topic},
                {"title": "How", "value": MODES.get(mode, mode)},
                {"title": "Open until", "value": until},
            ],
        },
    ]
    actions = [
        _action("offer_accept", "Accept", {"offer_id": offer_id}, "positive"),
        _action("offer_decline", "Decline", {"offer_id": offer_id}),
    ]
    return _card(body, actions)


def attachment(card: Card) -> dict[str, Any]:
    return {"contentType": CARD, "content": card}


def invoke_response(card: Card) -> dict[str, Any]:
    """The body Teams expects back for an Action.Execute, in the same HTTP response."""
    return {"statusCode": 200, "type": CARD, "value": card}


def feedback_card(request_id: str, supporter_alias: str) -> Card:
    """After a chat: a rating from 1 to 5 and an optional comment, stored with no link."""
    ratings = [
        ("5", "5 - very helpful"),
        ("4", "4"),
        ("3", "3"),
        ("2", "2"),
        ("1", "1 - not helpful"),
    ]
    body: list[Card] = [
        {"type": "TextBlock", "text": f"How was your chat with {supporter_alias}?", "wrap": True},
        {
            "type": "TextBlock",
            "text": "Feedback is anonymous: it is not linked to you.",
            "wrap": True,
        },
        _choices("rating", "Rating", ratings),
        {
            "type": "Input.Text",
            "id": "comment",
            "label": "Anything to add? (optional)",
            "isMultiline": True,
            "maxLength": MAX_NOTE_CHARS,
        },
    ]
    return _card(body, [_action("feedback", "Send", {"request_id": request_id})])
