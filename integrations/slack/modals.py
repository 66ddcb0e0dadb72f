"""The /peer request modal: built from the program's intake, read back into a RequestIn."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import ValidationError

from core.schemas.programs import IntakeOut
from core.schemas.requests import MAX_NOTE_CHARS, RequestIn, RequestView

CALLBACK_ID = "peer_request"
URGENCY = (("now", "Talk now"), ("scheduled", "Book a time"))
MODES = {"text": "Text chat", "video": "Video call", "in_person": "In person"}
# block ids are the RequestIn field names, so an error on a field lands on its input
FIELDS = ("topic", "urgency", "mode", "language", "note", "avoid_supporters")


def _text(value: str, kind: str = "plain_text") -> dict[str, Any]:
    return {"type": kind, "text": value} | ({"emoji": True} if kind == "plain_text" else {})


def _options(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"text": _text(label[:75]), "value": value} for value, label in pairs]


def _select(
    block_id: str, label: str, pairs: list[tuple[str, str]], **extra: Any
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "static_select", "action_id": block_id}
    element["options"] = _options(pairs)
    if len(pairs) == 1:
        element["initial_option"] = element["options"][0]
    return {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": element,
    } | extra


def escape(value: str) -> str:
    """Slack mrkdwn treats &, < and > as markup."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safety_blocks(intake: IntakeOut) -> list[dict[str, Any]]:
    """The notice and the crisis resources, on every screen a requester sees."""
    lines = [f"*{escape(intake.notice)}*"]
    for resource in intake.crisis_resources:
        line = f"• *{escape(resource.name)}*: {escape(resource.contact)}"
        if resource.description:
            line += f" ({escape(resource.description)})"
        lines.append(line)
    return [{"type": "section", "text": _text("\n".join(lines), "mrkdwn")}]


def request_view(intake: IntakeOut, supporters: list[tuple[uuid.UUID, str]]) -> dict[str, Any]:
    """The modal: topic, talk now or book, mode, language, optional note, whom to avoid."""
    blocks = [
        *safety_blocks(intake),
        _select("topic", "What would you like to talk about?", [(t, t) for t in intake.topics]),
        {
            "type": "input",
            "block_id": "urgency",
            "label": _text("When?"),
            "element": {
                "type": "radio_buttons",
                "action_id": "urgency",
                "options": _options(list(URGENCY)),
                "initial_option": _options(list(URGENCY))[0],
            },
        },
        _select("mode", "How?", [(m, MODES.get(m, m)) for m in intake.modes]),
        _select("language", "Language", [(code, code) for code in intake.languages]),
        {
            "type": "input",
            "block_id": "note",
            "optional": True,
            "label": _text("Anything the supporter should know? (optional)"),
            "hint": _text("Only your supporter reads this, and it is deleted after your chat."),
            "element": {
                "type": "plain_text_input",
                "action_id": "note",
                "multiline": True,
                "max_length": MAX_NOTE_CHARS,
            },
        },
    ]
    if supporters:
        blocks.append(_avoid(supporters))
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": json.dumps({"program": intake.slug}),
        "title": _text("Talk to a peer"),
        "submit": _text("Ask"),
        "close": _text("Cancel"),
        "blocks": blocks,
    }


def _avoid(supporters: list[tuple[uuid.UUID, str]]) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": "avoid_supporters",
        "optional": True,
        "label": _text("Anyone you would rather not talk to? (optional)"),
        "element": {
            "type": "multi_static_select",
            "action_id": "avoid_supporters",
            "options": _options([(str(i), alias) for i, alias in supporters[:100]]),
        },
    }


def read_submission(view: dict[str, Any], user_id: str) -> RequestIn | dict[str, str]:
    """The RequestIn the modal describes, or errors keyed by block id for Slack to show."""
    values = view.get("state", {}).get("values", {})
    program = json.loads(view.get("private_metadata") or "{}").get("program", "")
    data: dict[str, Any] = {
        "program": program,
        "channel": "slack",
        "requester": {"platform": "slack", "subject": user_id},
    }
    for block_id in FIELDS:
        value = _value(values.get(block_id, {}).get(block_id, {}))
        if value not in (None, "", []):
            data[block_id] = value
    try:
        return RequestIn.model_validate_json(json.dumps(data))
    except ValidationError as exc:
        return errors_of(exc)


def _value(element: dict[str, Any]) -> Any:
    if "selected_options" in element:
        return [option["value"] for option in element["selected_options"] or []]
    if element.get("selected_option"):
        return element["selected_option"]["value"]
    return element.get("value")


def errors_of(exc: ValidationError) -> dict[str, str]:
    """Pydantic's problems, each on the input it is about (the first block when unknown)."""
    found: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        block = field if field in FIELDS else "topic"
        found.setdefault(block, error["msg"].removeprefix("Value error, "))
    return found


def field_error(field: str | None, message: str) -> dict[str, str]:
    """A service's refusal (e.g. a topic no longer offered) on its input."""
    block = field.split(".")[0] if field else ""
    return {block if block in FIELDS else "topic": message}


STATUS_WORDS = {
    "offered": "We are asking supporters now. You will get a message here when one accepts.",
    "open": "Nobody is free this minute; we keep trying and will message you here.",
    "scheduled": "Your chat is booked. The details are in your messages from PeerLine.",
}


def notice_view(message: str) -> dict[str, Any]:
    """A modal that only says something: why the request form is not there."""
    return {
        "type": "modal",
        "callback_id": "peer_notice",
        "title": _text("Peer support"),
        "close": _text("Close"),
        "blocks": [{"type": "section", "text": _text(escape(message), "mrkdwn")}],
    }


def confirmation_view(intake: IntakeOut, shown: RequestView) -> dict[str, Any]:
    """What happens next, under their alias; the resources come first after worrying words."""
    said = STATUS_WORDS.get(shown.status, "Your request is in.")
    intro = f"You are *{escape(shown.alias)}* to your supporter; they will not see your name."
    blocks = [{"type": "section", "text": _text(f"{intro}\n{said}", "mrkdwn")}]
    safety = safety_blocks(intake)
    blocks = safety + blocks if shown.crisis.detected else blocks + safety
    return {
        "type": "modal",
        "callback_id": "peer_request_done",
        "title": _text("Request received"),
        "close": _text("Close"),
        "blocks": blocks,
    }


SLOT_CALLBACK_ID = "peer_slot"
MAX_SLOT_OPTIONS = 100  # Slack's limit for a static_select


def slot_view(
    intake: IntakeOut, chosen: RequestIn, slots: list[tuple[str, str]], zone_name: str
) -> dict[str, Any]:
    """Book a time: free slots in the reader's zone; the first screen's answers ride along."""
    blocks: list[dict[str, Any]] = []
    if slots:
        blocks.append(
            _select("slot", f"Choose a time (shown in {zone_name})", slots[:MAX_SLOT_OPTIONS])
        )
    else:
        said = "No supporter has a free time in the next two weeks. Please try again later."
        blocks.append({"type": "section", "text": _text(said, "mrkdwn")})
    carried = chosen.model_dump(mode="json", exclude={"slot", "requester"}, exclude_none=True)
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": SLOT_CALLBACK_ID,
        "private_metadata": json.dumps(carried),
        "title": _text("Book a time"),
        "close": _text("Cancel"),
        "blocks": blocks + safety_blocks(intake),
    }
    if slots:
        view["submit"] = _text("Book")
    return view


def read_slot(view: dict[str, Any], user_id: str) -> RequestIn | dict[str, str]:
    """The first screen's answers plus the chosen slot, or an error on the slot input."""
    data = json.loads(view.get("private_metadata") or "{}")
    chosen = _value(view.get("state", {}).get("values", {}).get("slot", {}).get("slot", {}))
    if not isinstance(chosen, str) or "|" not in chosen:
        return {"slot": "Choose a time"}
    supporter_id, starts_at = chosen.split("|", 1)
    data |= {
        "slot": {"supporter_id": supporter_id, "starts_at": starts_at},
        "requester": {"platform": "slack", "subject": user_id},
        "channel": "slack",
    }
    try:
        return RequestIn.model_validate_json(json.dumps(data))
    except ValidationError:
        return {"slot": "That time cannot be booked; choose another"}
