"""Adaptive Cards: the request form and offer cards, with an Action.Submit fallback each."""

from __future__ import annotations

from typing import Any

from core.schemas.programs import IntakeOut
from core.schemas.requests import MAX_NOTE_CHARS

CARD = "application/vnd.microsoft.card.adaptive"
MODES = {"text": "Text chat", "video": "Video call", "in_person": "In person"}
WHEN = [("now", "Talk now"), ("scheduled", "Book a time")]
Card = dict[str, Any]


def _action(
    verb: str, title: str, data: dict[str, Any], style: str | None = None, *, inputs: bool = True
) -> Card:
    """Action.Execute (Teams answers in the same response), Action.Submit where unsupported."""
    payload = {"verb": verb, **data}
    action: Card = {"type": "Action.Execute", "verb": verb, "title": title, "data": payload}
    action["fallback"] = {"type": "Action.Submit", "title": title, "data": payload}
    if not inputs:  # a button that needs no answer must not be held back by a required input
        action["associatedInputs"] = action["fallback"]["associatedInputs"] = "none"
    if style:
        action["style"] = style
    return action


def problem(text: str) -> Card:
    """What went wrong, in red, just under a card's title."""
    return {
        "type": "TextBlock",
        "text": text,
        "color": "Attention",
        "weight": "Bolder",
        "wrap": True,
    }


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


def _title(text: str) -> Card:
    return {"type": "TextBlock", "text": text, "size": "Large", "weight": "Bolder"}


def request_form(intake: IntakeOut) -> Card:
    """Topic, talk now or book a time, mode, language, an optional note; and one's bookings."""
    body = [
        _title("Talk to a peer"),
        *safety(intake),
        _choices("topic", "Topic", [(t, t) for t in intake.topics]),
        _choices("when", "When", WHEN) | {"value": "now", "style": "compact"},
        _choices("mode", "How", [(m, MODES.get(m, m)) for m in intake.modes]),
        _choices("language", "Language", [(code, code) for code in intake.languages]),
        {
            "type": "Input.Text",
            "id": "note",
            "label": "Anything the supporter should know? (optional; only they read it)",
            "isMultiline": True,
            "maxLength": MAX_NOTE_CHARS,
        },
        {"type": "ActionSet", "actions": [_action("my_bookings", "My bookings", {}, inputs=False)]},
    ]
    return _card(body, [_action("peer_request", "Continue", {}, "positive")])


def slot_card(
    intake: IntakeOut,
    carried: dict[str, str],
    times: list[tuple[str, str]],
    zone: str,
    *,
    later: str | None = None,
    trouble: str | None = None,
) -> Card:
    """Book a time: free times in the reader's zone; the form's answers ride in the buttons."""
    body = [_title("Book a time"), *([problem(trouble)] if trouble else [])]
    if times:
        label = f"Choose a time (shown in {zone})"
        body.append(
            _choices("slot", label, times) | {"style": "compact", "errorMessage": "Choose a time"}
        )
    else:
        text = "No supporter has a free time for this in the coming weeks. Please try again later."
        body.append({"type": "TextBlock", "text": text, "wrap": True})
    actions = [_action("book_slot", "Book", carried, "positive")] if times else []
    if later:
        actions.append(
            _action("book_times", "Later times", {**carried, "after": later}, inputs=False)
        )
    actions.append(_action("form", "Back", {}, inputs=False))
    return _card(body + safety(intake), actions)


def bookings_card(
    intake: IntakeOut, booked: list[tuple[str, str]], zone: str, *, told: str, trouble: str
) -> Card:
    """One's own upcoming bookings, each with Cancel (the request id, never who)."""
    body = [_title("My bookings"), *([problem(trouble)] if trouble else [])]
    if told:
        body.append({"type": "TextBlock", "text": told, "wrap": True})
    for request_id, label in booked:
        body.append({"type": "TextBlock", "text": label, "wrap": True, "separator": True})
        cancel = _action(
            "cancel_booking", "Cancel", {"request_id": request_id}, "destructive", inputs=False
        )
        body.append({"type": "ActionSet", "actions": [cancel]})
    if booked:
        body.append({"type": "TextBlock", "text": f"Times are shown in {zone}.", "isSubtle": True})
    else:
        body.append({"type": "TextBlock", "text": "You have no upcoming bookings.", "wrap": True})
    return _card(body + safety(intake), [_action("form", "Talk to a peer", {}, inputs=False)])


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


def chat_card(request_id: str, other_alias: str, said: str | None = None) -> Card:
    """A relayed chat's card: a reply box for this chat (one person, several chats) and End chat."""
    body: list[Card] = [
        {"type": "TextBlock", "text": f"Chat with {other_alias}", "weight": "Bolder", "wrap": True},
        {
            "type": "TextBlock",
            "text": "Write in this chat as usual. In more than one chat at once? Reply here.",
            "wrap": True,
            "isSubtle": True,
        },
        {
            "type": "Input.Text",
            "id": "reply",
            "label": f"Reply to {other_alias}",
            "isMultiline": True,
            "maxLength": 4000,
        },
    ]
    if said:
        body.insert(1, {"type": "TextBlock", "text": said, "wrap": True})
    data = {"request_id": request_id}
    actions = [
        _action("relay_send", "Send", data, "positive"),
        _action("relay_end", "End chat", data, "destructive", inputs=False),
    ]
    return _card(body, actions)
