"""The /peer modal: what it offers, and how a submission becomes a request or in-modal errors."""

from __future__ import annotations

import json
import uuid

from core.schemas.programs import NOT_A_CRISIS_SERVICE, CrisisResourceOut, IntakeOut
from core.schemas.requests import RequestIn
from integrations.slack.modals import field_error, read_submission, request_view

INTAKE = IntakeOut(
    slug="acme",
    name="Acme <Corp>",
    locale="en-GB",
    time_zone="Europe/London",
    topics=["stress", "grief"],
    languages=["en"],
    modes=["text", "video"],
    session_minutes=45,
    crisis_resources=[CrisisResourceOut(locale="en-GB", name="Samaritans", contact="Call 116 123")],
)
ASH = uuid.uuid4()


def submitted(view, **chosen):
    """The view as Slack sends it back in view_submission, with these inputs filled."""
    values = {}
    for block_id, value in chosen.items():
        if isinstance(value, list):
            element = {"selected_options": [{"value": v} for v in value]}
        elif block_id == "note":
            element = {"value": value}
        else:
            element = {"selected_option": {"value": value}}
        values[block_id] = {block_id: element}
    return {**view, "state": {"values": values}}


def test_the_modal_offers_the_program_choices_and_shows_the_crisis_resources():
    view = request_view(INTAKE, [(ASH, "Ash")])
    text = json.dumps(view)
    assert NOT_A_CRISIS_SERVICE in text and "Samaritans" in text and "Call 116 123" in text
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert [o["value"] for o in blocks["topic"]["element"]["options"]] == ["stress", "grief"]
    assert blocks["language"]["element"]["initial_option"]["value"] == "en", "one choice: chosen"
    assert blocks["note"]["optional"] and blocks["avoid_supporters"]["optional"]
    assert json.loads(view["private_metadata"]) == {"program": "acme"}


def test_a_submission_becomes_a_request_from_that_slack_user():
    view = request_view(INTAKE, [(ASH, "Ash")])
    request = read_submission(
        submitted(
            view,
            topic="grief",
            urgency="now",
            mode="text",
            language="en",
            note="  rough week  ",
            avoid_supporters=[str(ASH)],
        ),
        "U123",
    )
    assert isinstance(request, RequestIn)
    assert (request.program, request.topic, request.urgency, request.note) == (
        "acme",
        "grief",
        "now",
        "rough week",
    )
    assert request.avoid_supporters == [ASH] and request.channel == "slack"
    assert request.requester is not None and request.requester.subject == "U123"


def test_missing_and_bad_inputs_come_back_as_errors_on_their_blocks():
    view = request_view(INTAKE, [])
    errors = read_submission(submitted(view, urgency="now", mode="fax", language="en"), "U1")
    assert set(errors) == {"topic", "mode"}
    long_note = read_submission(
        submitted(view, topic="stress", urgency="now", mode="text", language="en", note="x" * 2001),
        "U1",
    )
    assert list(long_note) == ["note"]


def test_a_service_refusal_lands_on_its_input():
    assert field_error("topic", "no longer offered") == {"topic": "no longer offered"}
    assert field_error("slot.starts_at", "taken") == {"topic": "taken"}
