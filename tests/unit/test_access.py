"""Authorization rules in isolation: roles, program scope, deployment-wide tokens, self-service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from core.errors import Forbidden, NotFound, ValidationFailed
from core.services.access import Principal, require, require_self_or
from core.services.programs import crisis_resources_for
from core.services.slots import window

ACME, OTHER = uuid.uuid4(), uuid.uuid4()
ME = uuid.uuid4()


def test_a_role_must_be_listed():
    require(Principal(role="admin", program_id=ACME), ACME, "admin")
    with pytest.raises(Forbidden):
        require(Principal(role="coordinator", program_id=ACME), ACME, "admin")
    with pytest.raises(Forbidden):
        require(Principal(role="anonymous"), ACME, "admin")


def test_another_programs_token_is_told_nothing_exists():
    with pytest.raises(NotFound):
        require(Principal(role="admin", program_id=OTHER), ACME, "admin")


def test_only_admin_and_service_tokens_may_be_deployment_wide():
    require(Principal(role="admin"), ACME, "admin")
    require(Principal(role="service"), ACME, "service")
    with pytest.raises(Forbidden):
        require(Principal(role="coordinator"), ACME, "coordinator")


def test_supporters_act_on_themselves_only():
    me = Principal(role="supporter", program_id=ACME, supporter_id=ME)
    require_self_or(me, ACME, ME, "admin")
    with pytest.raises(Forbidden):
        require_self_or(me, ACME, uuid.uuid4(), "admin")
    with pytest.raises(NotFound):
        require_self_or(
            Principal(role="supporter", program_id=OTHER, supporter_id=ME), ACME, ME, "admin"
        )


def test_the_audit_names_tokens_never_people():
    token = uuid.uuid4()
    assert Principal(role="admin", token_id=token).actor == f"token:{token}"
    assert Principal(role="requester", request_id=uuid.uuid4()).actor == "requester"


RESOURCES = [
    {"locale": "en-US", "name": "988", "contact": "988"},
    {"locale": "en-GB", "name": "Samaritans", "contact": "116 123"},
    {"locale": "en", "name": "Find a Helpline", "contact": "findahelpline.com"},
    {"locale": "fr", "name": "3114", "contact": "3114"},
]


@pytest.mark.parametrize(
    ("locale", "first", "count"),
    [
        ("en-GB", "Samaritans", 3),
        ("en-US", "988", 3),
        ("fr-CA", "3114", 1),
        ("de", "988", 4),
    ],
)
def test_crisis_resources_fit_the_locale_most_specific_first(locale, first, count):
    program = SimpleNamespace(locale="en-US", crisis_resources=RESOURCES)
    chosen = crisis_resources_for(program, locale)  # type: ignore[arg-type]
    assert chosen[0].name == first and len(chosen) == count


def test_a_program_without_resources_still_shows_defaults():
    program = SimpleNamespace(locale="en", crisis_resources=[])
    assert crisis_resources_for(program)  # type: ignore[arg-type]


def test_search_window_is_cut_to_what_can_be_booked():
    now = datetime(2026, 3, 4, 9, tzinfo=UTC)
    ctx = SimpleNamespace(now=now)
    program = SimpleNamespace(horizon_days=28)
    start, end = window(ctx, program, None, None)  # type: ignore[arg-type]
    assert (start, (end - start).days) == (now, 7)
    past, _ = window(ctx, program, datetime(2020, 1, 1, tzinfo=UTC), None)  # type: ignore[arg-type]
    assert past == now
    far_start, far_end = window(ctx, program, datetime(9999, 1, 1, tzinfo=UTC), None)  # type: ignore[arg-type]
    assert far_start == far_end or (far_end - far_start).days <= 1
    with pytest.raises(ValidationFailed):
        window(ctx, program, now, datetime(2026, 12, 1, tzinfo=UTC))  # type: ignore[arg-type]
