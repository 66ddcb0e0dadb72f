"""Reports page and service: small groups and their complements suppressed, roles, CSV."""

from __future__ import annotations

import csv
import io

import pytest

from core.errors import Forbidden
from core.services import programs, report_tables, reports
from tests.helpers import auth, request_body, system_ctx

ANSWERED, UNANSWERED, RATINGS = 7, 2, [5, 5, 5, 5, 5, 4]
HIDDEN = "suppressed (&lt; 5)"


def ask(console, **fields):
    response = console.world.client.post("/api/v1/requests", json=request_body(**fields))
    assert response.status_code == 201, response.json
    return response.json


def answer(console, request, alias):
    """The supporter accepts two minutes later and completes the chat."""
    client, token = console.world.client, console.world.supporter_token(alias)
    console.clock.advance(minutes=2)
    offers = client.get("/api/v1/offers?program=acme&status=pending", headers=auth(token)).json
    [offer] = [o for o in offers if o["request_id"] == request["id"]]
    assert (
        client.post(f"/api/v1/offers/{offer['id']}/accept", headers=auth(token)).status_code == 200
    )
    closed = client.post(f"/api/v1/requests/{request['id']}/close", json={}, headers=auth(token))
    assert closed.status_code == 200, closed.json


@pytest.fixture
def activity(console):
    """Nine talk-now requests this week: seven answered (six rated), two nobody took."""
    made = []
    for n in range(ANSWERED):
        spanish = n % 2 == 1  # Birch speaks Spanish only; each has a weekly cap of 5
        request = ask(console, language="es" if spanish else "en")
        answer(console, request, "Birch" if spanish else "Ash")
        made.append(request)
    for request, rating in zip(made, RATINGS, strict=False):
        given = console.world.client.post(
            f"/api/v1/requests/{request['id']}/feedback",
            json={"rating": rating},
            headers=auth(request["token"]),
        )
        assert given.status_code == 204, given.json
    made += [ask(console) for _ in range(UNANSWERED)]
    return made


def build(console, only=None):
    ctx = system_ctx(console.app)
    with ctx.session:
        program = programs.get_program(ctx, "acme")
        span = report_tables.period(program, ctx.now, None, None)
        return {r.name: r for r in reports.build(ctx, program, span, only)}


def shown(row):
    return [None if f.suppressed else f.text for f in row.figures]


def test_default_period_is_twelve_whole_weeks(console):
    report = build(console, "requests")["requests"]
    assert len(report.rows) == 12
    assert report.rows[-1].label == "02 Mar 2026"


def test_small_group_and_its_complement_are_suppressed(console, activity):
    answered = build(console)["answered"]
    this_week = answered.rows[-1]
    # 2 not answered < 5; 7 answered would give it away (9 - 7), so it is hidden too
    assert shown(this_week) == [None, None, "9", None]
    assert shown(answered.total) == [None, None, "9", None]
    assert all(shown(row) == ["0", "0", "0", "-"] for row in answered.rows[:-1])


def test_requests_response_feedback_and_bands(console, activity):
    found = build(console)
    assert shown(found["requests"].rows[-1]) == ["9", "9"]
    response = found["response"]
    assert [shown(row)[0] for row in response.rows] == [None, "0", "0", "0", None]
    assert shown(response.total) == ["9"]
    assert response.notes == ["Median time to accept: 2 min."]
    feedback = found["feedback"]
    assert [shown(row)[0] for row in feedback.rows] == ["0", "0", "0", None, None]
    assert shown(feedback.total) == ["6"]
    sessions = found["sessions"]
    assert all(shown(row) == [None] or shown(row) == ["0"] for row in sessions.rows)
    assert shown(sessions.total) == [None], "two supporters are fewer than 5"
    utilisation = found["utilisation"].rows[-1]
    assert shown(utilisation) == ["0.0", None, None], "2 supporters' hours are hidden"


def test_a_program_may_raise_its_floor(console, activity):
    ctx = system_ctx(console.app)
    with ctx.session:
        programs.get_program(ctx, "acme").min_report_group = 10
        ctx.session.commit()
    assert shown(build(console)["requests"].rows[-1]) == [None, None]


def test_supporters_may_not_read_reports(console):
    ctx = system_ctx(console.app)
    with ctx.session:
        program = programs.get_program(ctx, "acme")
        span = report_tables.period(program, ctx.now, None, None)
        supporter = type(ctx)(ctx.session, type(ctx.principal)("supporter", program.id), ctx.now)
        with pytest.raises(Forbidden):
            reports.build(supporter, program, span)


@pytest.mark.parametrize("role", ["admin", "coordinator"])
def test_staff_see_charts_tables_and_the_explanation(console, activity, role):
    page = console.client(role).get(f"{console.base()}/reports")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    assert "at least <strong>5</strong>" in html
    assert html.count("<svg") == 6 and "<title" in html
    assert f'<td class="num suppressed">{HIDDEN}</td>' in html
    assert "style=" not in html and "<script" not in html
    assert "Median time to accept: 2 min." in html
    for request in activity:  # nothing of one request: its id, alias or token
        assert request["id"] not in html and request["token"] not in html
        assert request["alias"] not in html
    assert ">Reports</a>" in html


def test_supporter_is_refused_and_other_programs_are_not_found(console):
    assert console.client("supporter").get(f"{console.base()}/reports").status_code == 403
    assert (
        console.client("supporter").get(f"{console.base()}/reports/answered.csv").status_code == 403
    )
    assert console.client("admin").get("/console/p/other/reports").status_code == 404
    assert console.client(None).get(f"{console.base()}/reports").status_code == 302


def test_csv_writes_suppressed_cells_as_the_word(console, activity):
    response = console.client("admin").get(f"{console.base()}/reports/answered.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "Week starting",
        "Answered",
        "Not answered",
        "All requests",
        "Share answered",
    ]
    assert rows[-2] == ["02 Mar 2026", "suppressed", "suppressed", "9", "suppressed"]
    assert rows[-1] == ["All weeks", "suppressed", "suppressed", "9", "suppressed"]
    assert len(rows) == 14
    for request in activity:
        assert request["id"] not in response.get_data(as_text=True)


def test_unknown_report_is_not_found(console):
    assert console.client("admin").get(f"{console.base()}/reports/people.csv").status_code == 404


@pytest.mark.parametrize(
    "query, field",
    [
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("from=2026-03-01&to=2026-01-01", "from"),
    ],
)
def test_bad_dates_are_refused_with_a_message(console, query, field):
    page = console.client("admin").get(f"{console.base()}/reports?{query}")
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert f'id="{field}-error" role="alert"' in html
    assert f'aria-describedby="{field}-error"' in html
    assert "<svg" not in html
    csv_file = console.client("admin").get(f"{console.base()}/reports/requests.csv?{query}")
    assert csv_file.status_code == 422


def test_too_long_a_period_is_refused(console):
    page = console.client("admin").get(f"{console.base()}/reports?from=2020-01-01&to=2026-03-01")
    assert page.status_code == 422
    assert "at most 53 weeks" in page.get_data(as_text=True)


def test_chosen_dates_pick_whole_weeks(console, activity):
    page = console.client("coordinator").get(
        f"{console.base()}/reports?from=2026-03-04&to=2026-03-04"
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'value="2026-03-04"' in html
    rows = list(
        csv.reader(
            io.StringIO(
                console.client("coordinator")
                .get(f"{console.base()}/reports/requests.csv?from=2026-03-04&to=2026-03-04")
                .get_data(as_text=True)
            )
        )
    )
    assert rows == [
        ["Week starting", "api", "All channels"],
        ["02 Mar 2026", "9", "9"],
        ["All weeks", "9", "9"],
    ]
