"""Booking a time from Teams: form, free times in the person's zone, book, see and cancel."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.models import Booking, SupportRequest
from core.runtime import runtime
from integrations.teams.booking import MAX_TIMES, client_zone, zone_or
from tests.helpers import system_ctx
from tests.integration.test_deliveries import drain, rows
from tests.teams.conftest import CHAT, card_of, execute, from_person, post, teams_supporters

ASKER, OTHER = "aad-asker", "aad-other"
NEW_YORK = [{"type": "clientInfo", "locale": "en-US", "timezone": "America/New_York"}]
CHOICES = {"topic": "stress", "mode": "video", "language": "en", "note": "private words"}


@pytest.fixture
def booked_stack(stack):
    """The stack with Ash (Teams, every weekday 08:00-20:00 London) chatting with the bot."""
    app, keys, connector = stack
    world = teams_supporters(app, connector, keys, "Ash")
    connector.open_conversation("a:other")
    return app, keys, connector, world


def act(stack, verb: str, /, aad: str = ASKER, entities=NEW_YORK, **data) -> dict:
    """Press a card button (Action.Execute); the answer is the next card, in the same response."""
    app, keys, connector = stack[:3]
    data.pop("verb", None)  # a button's data names its verb again
    chat = CHAT if aad == ASKER else "a:other"
    activity = from_person(connector.url, aad, chat, entities=entities, **execute(verb, **data))
    answer = post(app, activity, keys.token())
    assert answer.status_code == 200 and answer.json["statusCode"] == 200, answer.data
    assert answer.json["type"] == "application/vnd.microsoft.card.adaptive"
    return answer.json["value"]


def times_of(card: dict) -> list[dict]:
    [choices] = [b for b in card["body"] if b.get("id") == "slot"]
    assert choices["type"] == "Input.ChoiceSet" and choices["style"] == "compact"
    return choices["choices"]


def action(card: dict, verb: str) -> dict:
    return next(a for a in card.get("actions", []) if a["verb"] == verb)


def troubles(card: dict) -> list[str]:
    return [b["text"] for b in card["body"] if b.get("color") == "Attention"]


def body_text(card: dict) -> str:
    return json.dumps(card["body"])


def count(app, model) -> int:
    with runtime(app).engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(model)) or 0)


def test_book_a_time_lists_free_times_in_the_persons_zone_and_books_one(booked_stack):
    app, keys, connector, _world = booked_stack
    post(app, from_person(connector.url, ASKER, CHAT, type="message", text="hi"), keys.token())
    form = card_of(connector.activities[CHAT][-1])
    [when] = [b for b in form["body"] if b.get("id") == "when"]
    assert when["style"] == "compact" and when["value"] == "now"
    assert [c["title"] for c in when["choices"]] == ["Talk now", "Book a time"]

    listed = act(booked_stack, "peer_request", when="scheduled", **CHOICES)
    assert "shown in America/New_York" in body_text(listed)
    offered = times_of(listed)
    assert offered[0]["title"] == "Wed 4 Mar, 08:00 with Ash", "13:00 London is 08:00 in New York"
    assert len(offered) == MAX_TIMES and action(listed, "book_times")["data"]["after"]
    book = action(listed, "book_slot")
    assert {k: book["data"][k] for k in CHOICES} == CHOICES
    assert ASKER not in json.dumps(listed) and "A Real Name" not in json.dumps(listed)
    assert "not a crisis" in json.dumps(listed).lower()

    done = act(booked_stack, "book_slot", **book["data"], slot=offered[0]["value"])
    said = body_text(done)
    assert "Booked: Wed 4 Mar, 08:00 with Ash (America/New_York), video call" in said
    assert "to your supporter" in said and "not a crisis" in said.lower()
    assert troubles(done) == []

    before = len(connector.activities[CHAT])
    drain(app)
    assert {d.status for d in rows(app, kind="booking_confirmed")} == {"sent"}
    news = connector.activities[CHAT][before:]
    assert any("Your peer chat is booked" in m.get("text", "") for m in news)
    assert any("booked" in m.get("text", "") for m in connector.activities["a:Ash"])


def test_later_times_page_on_and_the_submit_fallback_books_in_the_programs_zone(booked_stack):
    app, keys, connector, _world = booked_stack
    listed = act(booked_stack, "peer_request", when="scheduled", **CHOICES)
    assert times_of(listed)[-1]["title"] == "Wed 4 Mar, 14:00 with Ash"
    later = act(booked_stack, "book_times", **action(listed, "book_times")["data"])
    assert times_of(later)[0]["title"] == "Wed 4 Mar, 14:15 with Ash", "the 26th time on"

    def submit(**value) -> dict:
        unknown_zone = [{"type": "clientInfo", "timezone": "Mars/Olympus"}]
        message = from_person(
            connector.url, ASKER, CHAT, type="message", value=value, entities=unknown_zone
        )
        assert post(app, message, keys.token()).status_code == 200
        return card_of(connector.activities[CHAT][-1])

    listed = submit(verb="peer_request", when="scheduled", **CHOICES)
    assert "shown in Europe/London" in body_text(listed), "an unknown zone: the program's"
    [first_time, *_] = times_of(listed)
    assert first_time["title"] == "Wed 4 Mar, 13:00 with Ash"
    book = action(listed, "book_slot")
    assert book["fallback"]["type"] == "Action.Submit"
    done = submit(**book["fallback"]["data"], slot=first_time["value"])
    assert "Booked: Wed 4 Mar, 13:00 with Ash (Europe/London)" in body_text(done)
    assert count(app, Booking) == 1


def test_a_time_taken_meanwhile_lists_the_times_again_and_stores_nothing(booked_stack):
    app, *_ = booked_stack
    listed = act(booked_stack, "peer_request", when="scheduled", **CHOICES)
    chosen = times_of(listed)[0]["value"]
    theirs = act(booked_stack, "peer_request", OTHER, when="scheduled", **CHOICES)
    act(booked_stack, "book_slot", OTHER, **action(theirs, "book_slot")["data"], slot=chosen)
    assert count(app, Booking) == 1 and count(app, SupportRequest) == 1

    again = act(booked_stack, "book_slot", **action(listed, "book_slot")["data"], slot=chosen)
    assert troubles(again) == ["That time was just taken; choose another."]
    assert chosen not in [c["value"] for c in times_of(again)], "the list is fresh"
    assert count(app, Booking) == 1 and count(app, SupportRequest) == 1, "nothing partial"
    assert "no upcoming bookings" in body_text(act(booked_stack, "my_bookings"))


@pytest.mark.parametrize(
    ("verb", "data", "problem"),
    [
        ("book_slot", {**CHOICES, "slot": "nonsense"}, "not one of those offered"),
        ("book_slot", {**CHOICES, "slot": ["a", "b"]}, "not one of those offered"),
        (
            "book_slot",
            {**CHOICES, "slot": f"{uuid.uuid4()}|2026-03-05T13:00:00+00:00"},
            "not one of those offered",
        ),
        ("book_slot", {**CHOICES, "slot": "ASH|2026-03-05T13:00:00"}, "not one of those offered"),
        ("peer_request", {**CHOICES, "when": "scheduled", "topic": ""}, "Choose a topic."),
        ("peer_request", {**CHOICES, "when": "scheduled", "topic": "nope"}, "is not offered"),
        ("peer_request", {**CHOICES, "when": "someday"}, "choose Talk now or Book a time"),
        ("peer_request", {**CHOICES, "when": "scheduled", "note": "x" * 2001}, "note:"),
        ("book_slot", {"slot": "ASH|2026-03-05T13:00:00+00:00"}, "Choose a topic."),
    ],
    ids=[
        "slot not from the list",
        "slot not a string",
        "unknown supporter",
        "time without a zone",
        "missing topic",
        "topic not offered",
        "unknown when",
        "note too long",
        "booking without the form's answers",
    ],
)
def test_bad_input_shows_the_card_again_with_the_problem_in_red(booked_stack, verb, data, problem):
    app, *_, world = booked_stack
    data = {
        k: v.replace("ASH", world.supporters["Ash"]["id"]) if isinstance(v, str) else v
        for k, v in data.items()
    }
    card = act(booked_stack, verb, **data)
    assert any(problem in text for text in troubles(card)), card
    assert count(app, SupportRequest) == 0 and count(app, Booking) == 0


def test_a_time_that_passed_while_the_card_was_open_is_refused(booked_stack, clock):
    app, *_ = booked_stack
    listed = act(booked_stack, "peer_request", when="scheduled", **CHOICES)
    clock.advance(days=1)
    again = act(
        booked_stack,
        "book_slot",
        **action(listed, "book_slot")["data"],
        slot=times_of(listed)[0]["value"],
    )
    assert troubles(again) == ["That time has passed; choose another."]
    assert times_of(again)[0]["title"].startswith("Thu 5 Mar"), "the times from now on"
    assert count(app, SupportRequest) == 0


def test_a_requester_cancels_their_own_booking_and_nobody_else_can(booked_stack, clock):
    app, _keys, connector, _world = booked_stack
    listed = act(booked_stack, "peer_request", when="scheduled", **CHOICES)
    act(
        booked_stack,
        "book_slot",
        **action(listed, "book_slot")["data"],
        slot=times_of(listed)[0]["value"],
    )
    mine = act(booked_stack, "my_bookings")
    assert "Wed 4 Mar, 08:00 with Ash, video call" in body_text(mine)
    [cancel] = [a for b in mine["body"] if b["type"] == "ActionSet" for a in b["actions"]]
    assert cancel["verb"] == "cancel_booking" and set(cancel["data"]) == {"verb", "request_id"}

    stranger = act(booked_stack, "cancel_booking", OTHER, **cancel["data"])
    assert troubles(stranger) == ["That booking could not be found, so nothing was cancelled."]
    assert "with Ash" not in body_text(stranger), "their own (empty) list, not the asker's"
    assert "with Ash" in body_text(act(booked_stack, "my_bookings")), "still booked"

    drain(app)
    before = len(connector.activities[CHAT])
    gone = act(booked_stack, "cancel_booking", **cancel["data"])
    assert "Your booking is cancelled" in body_text(gone) and "no upcoming bookings" in body_text(
        gone
    )
    drain(app)
    assert {d.status for d in rows(app, kind="booking_cancelled")} == {"sent"}
    assert any("cancelled" in m.get("text", "") for m in connector.activities[CHAT][before:])
    twice = act(booked_stack, "cancel_booking", **cancel["data"])
    assert troubles(twice) == ["That booking was already cancelled or is over."]


def test_my_bookings_shows_only_what_is_still_to_come(booked_stack, clock):
    listed = act(booked_stack, "peer_request", when="scheduled", **CHOICES)
    act(
        booked_stack,
        "book_slot",
        **action(listed, "book_slot")["data"],
        slot=times_of(listed)[0]["value"],
    )
    assert "with Ash" in body_text(act(booked_stack, "my_bookings"))
    clock.advance(hours=5)
    assert "no upcoming bookings" in body_text(act(booked_stack, "my_bookings"))


@pytest.mark.parametrize(
    ("activity", "zone"),
    [
        ({"entities": NEW_YORK}, "America/New_York"),
        ({"localTimezone": "Asia/Tokyo"}, "Asia/Tokyo"),
        ({"entities": [{"type": "clientInfo", "timezone": "Europe"}]}, "Europe/London"),
        ({"entities": [{"type": "clientInfo", "timezone": "../etc/passwd"}]}, "Europe/London"),
        ({"entities": "garbage", "localTimezone": 7}, "Europe/London"),
        ({"entities": 7, "localTimezone": ""}, "Europe/London"),
        ({}, "Europe/London"),
    ],
    ids=["clientInfo", "localTimezone", "a folder", "a path", "malformed", "not a list", "none"],
)
def test_the_persons_zone_comes_from_the_client_else_the_programs(activity, zone):
    assert str(zone_or(client_zone(activity), "Europe/London")) == zone


def test_a_cancel_too_close_to_the_session_says_so(booked_stack, clock):
    listed = act(booked_stack, "peer_request", when="scheduled", **CHOICES)
    slot = times_of(listed)[0]["value"]
    act(booked_stack, "book_slot", **action(listed, "book_slot")["data"], slot=slot)
    mine = act(booked_stack, "my_bookings")
    [cancel] = [a for b in mine["body"] if b["type"] == "ActionSet" for a in b["actions"]]
    with system_ctx(booked_stack[0]).session as session:
        starts = session.scalars(select(Booking.starts_at)).one()
    clock.set(starts - timedelta(minutes=30))
    late = act(booked_stack, "cancel_booking", **cancel["data"])
    assert [t for t in troubles(late) if t.startswith("Changes close")], troubles(late)
    assert "with Ash" in body_text(act(booked_stack, "my_bookings")), "still booked"
