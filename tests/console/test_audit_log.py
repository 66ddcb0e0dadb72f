"""The audit log page: staff filter the program's trail by action, role and dates, page by page."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from core.services import audit, programs
from core.services.access import Ctx, Principal
from tests.helpers import make_world, system_ctx

ACCOUNT = uuid.UUID("00000000-0000-4000-8000-00000000abcd")
TOKEN = uuid.UUID("00000000-0000-4000-8000-00000000ef01")


def record(console, at: datetime, action: str, role: str = "admin", slug: str = "acme", **details):
    """One audit event, as a service would write it, by an account (staff) or a token."""
    base = system_ctx(console.app)
    with base.session:
        program = programs.get_program(base, slug)
        if role in ("admin", "coordinator"):
            principal = Principal(role=role, program_id=program.id, account_id=ACCOUNT)
        else:
            principal = Principal(role=role, program_id=program.id, token_id=TOKEN)
        ctx = Ctx(base.session, principal, at)
        audit.record(ctx, program.id, action, "supporter", uuid.uuid4(), **details)
        base.session.commit()


def rows(page: str) -> list[str]:
    return re.findall(r'<th scope="row">([^<]+)</th>', page)


def audit_page(console, who: str = "admin", **query: str):
    return console.client(who).get(f"{console.base()}/audit", query_string=query)


def test_staff_see_events_in_the_programs_time_zone(console):
    at = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)  # 10:30 in London (summer time)
    record(console, at, "supporter.paused", fields=["paused_until"])
    for role in ("admin", "coordinator"):
        answer = audit_page(console, role)
        text = answer.get_data(as_text=True)
        assert answer.status_code == 200
        assert "Time (Europe/London)" in text and "2026-07-01 10:30" in text
        assert "supporter.paused" in rows(text)
        assert f"account:{ACCOUNT}" in text and "fields: paused_until" in text


def test_filters_by_action_role_and_dates(console):
    day = (console.clock.now() + timedelta(days=30)).replace(hour=12)
    record(console, day, "test.added")
    record(console, day + timedelta(days=1), "test.paused", role="coordinator")
    record(console, day + timedelta(days=2), "test.created", role="service")
    record(console, day, "test.added")
    assert rows(audit_page(console, action="test.added").get_data(as_text=True)) == [
        "test.added",
        "test.added",
    ]
    by_role = audit_page(console, role="service").get_data(as_text=True)
    assert rows(by_role) == ["test.created"] and f"token:{TOKEN}" in by_role
    second = (day + timedelta(days=1)).date().isoformat()
    one_day = audit_page(console, **{"from": second, "to": second})
    assert rows(one_day.get_data(as_text=True)) == ["test.paused"]
    later = audit_page(console, **{"from": second}).get_data(as_text=True)
    assert rows(later) == ["test.created", "test.paused"]
    assert rows(audit_page(console, action="nothing.like.this").get_data(as_text=True)) == []


def test_only_this_programs_events_are_shown(console):
    make_world(console.app, console.app.test_client(), slug="globex", name="Globex")
    record(console, datetime(2026, 3, 10, tzinfo=UTC), "globex.secret", slug="globex")
    text = audit_page(console, "operator").get_data(as_text=True)
    assert "globex.secret" not in text


def test_bad_filters_are_explained_with_422(console):
    record(console, datetime(2026, 3, 10, tzinfo=UTC), "supporter.added")
    for query, field, message in (
        ({"from": "10/03/2026"}, "from", "Enter a date as YYYY-MM-DD"),
        ({"to": "2026-02-30"}, "to", "Enter a date as YYYY-MM-DD"),
        ({"from": "2026-03-12", "to": "2026-03-11"}, "to", "before the start date"),
        ({"role": "manager"}, "role", "Choose one of the listed roles"),
        ({"offset": "-5"}, "offset", "page number is not valid"),
    ):
        answer = audit_page(console, **query)
        text = answer.get_data(as_text=True)
        assert answer.status_code == 422, query
        assert message in text and f'id="{field}-error"' in text and 'role="alert"' in text
        assert rows(text) == []


def test_pages_of_fifty_newest_first(console):
    start = console.clock.now() + timedelta(days=1)
    for n in range(60):
        record(console, start + timedelta(minutes=n), f"event.{n:02d}")
    first = audit_page(console).get_data(as_text=True)
    assert rows(first)[0] == "event.59" and len(rows(first)) == 50
    assert "Older events" in first and "Newer events" not in first
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = console.client("admin").get(older).get_data(as_text=True)
    assert rows(second)[:10] == [f"event.{n:02d}" for n in range(9, -1, -1)]
    assert "Newer events" in second and "Older events" not in second


def test_paging_keeps_the_filters(console):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for n in range(55):
        record(console, start + timedelta(minutes=n), "test.added")
    record(console, start, "other.action")
    first = audit_page(console, action="test.added").get_data(as_text=True)
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "action=test.added" in older
    second = console.client("admin").get(older).get_data(as_text=True)
    assert rows(second) == ["test.added"] * 5


def test_supporters_may_not_open_the_audit_log(console):
    assert audit_page(console, "supporter").status_code == 403


def test_another_programs_staff_are_told_it_does_not_exist(console):
    from core.services import accounts
    from tests.console.conftest import PASSWORD

    make_world(console.app, console.app.test_client(), slug="globex", name="Globex")
    ctx = system_ctx(console.app)
    with ctx.session:
        accounts.create(
            ctx,
            email="coordinator@globex.test",
            role="coordinator",
            display_name="Globex coordinator",
            program_id=programs.get_program(ctx, "globex").id,
            supporter_id=None,
            password=PASSWORD,
        )
        ctx.session.commit()
    client = console.app.test_client()
    console.post(client, "/console/sign-in", email="coordinator@globex.test", password=PASSWORD)
    assert client.get(f"{console.base()}/audit").status_code == 404
    assert client.get("/console/p/globex/audit").status_code == 200


def test_settings_changes_appear_in_the_log(console):
    client = console.client("admin")
    page = client.get(f"{console.base()}/settings").get_data(as_text=True)
    assert "program.updated" not in rows(audit_page(console).get_data(as_text=True))
    from tests.console.test_settings import form_of

    answer = client.post(f"{console.base()}/settings", data={**form_of(page), "weekly_cap": "4"})
    assert answer.status_code == 302
    text = audit_page(console, action="program.updated").get_data(as_text=True)
    assert rows(text) == ["program.updated"] and "fields: weekly_cap" in text
