"""Feedback from Slack after a chat: one's own, once, and stored with no link to anyone."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from core.models import Feedback
from integrations.slack import relay_text
from tests.helpers import system_ctx
from tests.integration.test_deliveries import drain
from tests.slack import test_relay
from tests.slack.test_flow import ASH, ASKER, click, interaction
from tests.slack.test_relay import card_of, start_chat

# the relay tests' fixtures: a Slack-enabled app with two supporters, and the fake Slack
_only_our_slack_settings = test_relay._only_our_slack_settings
app = test_relay.app
slack = test_relay.slack


def ended_chat(app, slack) -> dict:
    """A finished relay chat; returns the requester's feedback prompt message."""
    start_chat(app, slack)
    click(app.test_client(), ASH, relay_text.END, card_of(slack, ASH))
    drain(app)
    [prompt] = [m for m in slack.messages_to(ASKER) if "How was your peer chat?" in m["text"]]
    return prompt


def send_feedback(app, view: dict, user: str, rating: str | None, comment: str | None = None):
    values = {"rating": {"rating": {"selected_option": {"value": rating} if rating else None}}}
    values["comment"] = {"comment": {"value": comment}}
    payload = {
        "type": "view_submission",
        "team": {"id": "T0TEAM"},
        "user": {"id": user},
        "view": {**view, "id": "V9", "state": {"values": values}},
    }
    return interaction(app.test_client(), payload)


def opened_form(app, slack, prompt: dict) -> dict:
    assert click(app.test_client(), ASKER, "feedback_open", prompt).status_code == 200
    view = slack.calls("views.open")[-1].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def feedback_rows(app) -> list[tuple[int, str | None]]:
    with system_ctx(app).session as session:
        return [(f.rating, f.comment) for f in session.scalars(select(Feedback))]


def test_the_prompt_opens_a_form_and_the_rating_is_stored_unlinked(app, slack):
    form = opened_form(app, slack, ended_chat(app, slack))
    assert form["callback_id"] == "peer_feedback"
    answer = send_feedback(app, form, ASKER, "4", "kind and calm")
    assert answer.json["response_action"] == "update"
    assert "Thank you" in json.dumps(answer.json["view"])
    assert feedback_rows(app) == [(4, "kind and calm")]
    again = send_feedback(app, form, ASKER, "1")
    assert "already given" in json.dumps(again.json["view"]), "once per chat"
    assert len(feedback_rows(app)) == 1


def test_a_rating_is_required_in_the_form(app, slack):
    form = opened_form(app, slack, ended_chat(app, slack))
    answer = send_feedback(app, form, ASKER, None)
    assert answer.json == {
        "response_action": "errors",
        "errors": {"rating": "Choose a rating from 1 to 5"},
    }
    assert feedback_rows(app) == []


def test_someone_else_cannot_give_feedback_on_another_persons_chat(app, slack):
    form = opened_form(app, slack, ended_chat(app, slack))
    answer = send_feedback(app, form, "U0INTRUDER", "1", "spam")
    assert "could not be found" in json.dumps(answer.json["view"])
    with system_ctx(app).session as session:
        assert session.scalar(select(func.count()).select_from(Feedback)) == 0
