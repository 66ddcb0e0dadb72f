"""The availability editor, date overrides, pausing, and the program's "who is on" week."""

from __future__ import annotations

import re
import uuid
from datetime import date

from core.models import AuditEvent
from core.schemas.programs import ProgramIn
from core.schemas.supporters import SupporterIn
from core.services import availability, programs, roster
from tests.helpers import system_ctx

# The frozen clock starts on Wednesday 2026-03-04 09:00 UTC; Ash and Birch (Europe/London)
# have Monday to Friday 08:00-20:00.


def sid(console, alias="Ash"):
    return uuid.UUID(console.world.supporters[alias]["id"])


def editor_path(console, alias="Ash"):
    return f"{console.base()}/supporters/{sid(console, alias)}/availability"


def weekly(console, alias="Ash"):
    ctx = system_ctx(console.app)
    with ctx.session:
        saved = availability.get_weekly(ctx, sid(console, alias))
    return [(w.weekday, w.start, w.end) for w in saved.weekly]


def overrides(console, alias="Ash"):
    ctx = system_ctx(console.app)
    with ctx.session:
        return availability.list_overrides(ctx, sid(console, alias))


def supporter_status(console, alias="Ash"):
    ctx = system_ctx(console.app)
    with ctx.session:
        found, _ = roster.get_supporter(ctx, sid(console, alias))
        return found.status, found.paused_until


def audit_actions(console):
    ctx = system_ctx(console.app)
    with ctx.session:
        return [(e.action, e.actor) for e in ctx.session.query(AuditEvent).order_by(AuditEvent.at)]


def blank_week(**windows):
    """A weekly form: every day's first two rows empty unless given as mon_0=("09:00","12:00")."""
    form = {
        f"{d}-{i}-{part}": ""
        for d in availability.WEEKDAYS
        for i in (0, 1)
        for part in ("start", "end")
    }
    for key, (start, end) in windows.items():
        day, index = key.split("_")
        form[f"{day}-{index}-start"], form[f"{day}-{index}-end"] = start, end
    return form


def span(start, end):
    """Hours as the pages show them, with an en dash."""
    return f"{start}\N{EN DASH}{end}"


def text(response):
    return response.get_data(as_text=True)


def test_editor_shows_hours_in_the_supporters_time_zone(console):
    page = console.client("coordinator").get(editor_path(console))
    assert page.status_code == 200
    body = text(page)
    assert "Availability of Ash" in body
    assert "Europe/London" in body and "Ash's own time zone" in body
    assert 'id="mon-0-start" name="mon-0-start" type="time" value="08:00"' in body
    assert 'id="sat-0-start" name="sat-0-start" type="time" value=""' in body


def test_staff_replace_the_weekly_hours_and_it_is_audited(console):
    client = console.client("admin")
    form = blank_week(mon_0=("09:00", "12:00"), mon_1=("13:00", "17:00"), sat_0=("10:00", "00:00"))
    saved = console.post(client, editor_path(console), **form)
    assert saved.status_code == 302
    assert weekly(console) == [
        ("mon", "09:00", "12:00"),
        ("mon", "13:00", "17:00"),
        ("sat", "10:00", "24:00"),
    ]
    page = text(client.get(saved.headers["Location"]))
    assert "Saved the weekly hours of Ash." in page
    assert 'name="sat-0-end" type="time" value="00:00"' in page
    assert ("availability.updated", "account:") in [
        (a, who[:8]) for a, who in audit_actions(console)
    ]


def test_bad_weekly_input_is_422_naming_the_field_and_nothing_is_stored(console):
    client = console.client("admin")
    before = weekly(console)
    cases = {
        "mon-0-start": blank_week(mon_0=("25:00", "12:00")),
        "tue-0-end": blank_week(tue_0=("12:00", "09:00")),
        "wed-0-end": blank_week(wed_0=("09:00", "")),
        "thu-1-start": blank_week(thu_0=("09:00", "12:00"), thu_1=("11:00", "14:00")),
    }
    for field, form in cases.items():
        response = console.post(client, editor_path(console), **form)
        assert response.status_code == 422, field
        body = text(response)
        assert f'id="{field}-error"' in body and 'role="alert"' in body, field
        assert f'aria-describedby="{field}-error"' in body, field
        assert "nothing was saved" in body
        assert weekly(console) == before
    # what was typed is shown again, not the saved hours
    assert 'name="thu-1-start" type="time" value="11:00"' in body


def test_date_overrides_are_added_listed_and_removed(console):
    client = console.client("coordinator")
    path = f"{editor_path(console)}/overrides"
    off = console.post(client, path, editor_path(console), date="2026-03-06", available="no")
    assert off.status_code == 302
    extra = console.post(
        client,
        path,
        editor_path(console),
        date="2026-03-07",
        available="yes",
        start="10:00",
        end="14:00",
    )
    assert extra.status_code == 302
    page = text(client.get(editor_path(console)))
    assert "Fri 2026-03-06" in page and "whole day" in page
    assert "Sat 2026-03-07" in page and span("10:00", "14:00") in page
    found = overrides(console)
    assert [(o.date.isoformat(), o.available) for o in found] == [
        ("2026-03-06", False),
        ("2026-03-07", True),
    ]
    removed = console.post(client, f"{path}/{found[0].id}/delete", editor_path(console))
    assert removed.status_code == 302
    assert [o.date.isoformat() for o in overrides(console)] == ["2026-03-07"]


def test_bad_overrides_are_422_naming_the_field(console):
    client = console.client("admin")
    path = f"{editor_path(console)}/overrides"
    cases = {
        "end": dict(date="2026-03-07", available="yes", start="10:00", end=""),
        "date": dict(date="2026-03-03", available="no"),  # yesterday
        "available": dict(date="2026-03-07", available="maybe"),
    }
    for field, form in cases.items():
        response = console.post(client, path, editor_path(console), **form)
        assert response.status_code == 422, field
        assert f'id="{field}-error"' in text(response), field
    bad_date = console.post(client, path, editor_path(console), date="07/03/2026", available="no")
    assert bad_date.status_code == 422 and 'id="date-error"' in text(bad_date)
    assert overrides(console) == []


def test_a_supporter_edits_only_their_own_availability(console):
    client = console.client("supporter")
    mine = client.get(f"{console.base()}/my-availability")
    assert mine.status_code == 302 and mine.headers["Location"].endswith(editor_path(console))
    saved = console.post(client, editor_path(console), **blank_week(fri_0=("09:00", "11:00")))
    assert saved.status_code == 302
    assert weekly(console) == [("fri", "09:00", "11:00")]
    assert client.get(editor_path(console, "Birch")).status_code == 403
    form = blank_week(mon_0=("01:00", "02:00"))
    other = console.post(client, editor_path(console, "Birch"), editor_path(console), **form)
    assert other.status_code == 403
    assert weekly(console, "Birch")[0] == ("mon", "08:00", "20:00")
    assert len(weekly(console, "Birch")) == 5


def test_a_supporter_pauses_and_resumes_themselves(console):
    client = console.client("supporter")
    paused = console.post(
        client, f"{editor_path(console)}/pause", editor_path(console), until="2026-03-10"
    )
    assert paused.status_code == 302
    assert supporter_status(console) == ("paused", date(2026, 3, 10))
    page = text(client.get(editor_path(console)))
    assert "paused until 2026-03-10" in page
    resumed = console.post(client, f"{editor_path(console)}/resume", editor_path(console))
    assert resumed.status_code == 302
    assert supporter_status(console) == ("active", None)
    past = console.post(
        client, f"{editor_path(console)}/pause", editor_path(console), until="2026-03-01"
    )
    assert past.status_code == 422 and 'id="until-error"' in text(past)
    assert supporter_status(console)[0] == "active"


def test_forms_without_a_csrf_token_are_refused_and_change_nothing(console):
    client = console.client("admin")
    client.get(editor_path(console))
    posts = {
        "": blank_week(mon_0=("01:00", "02:00")),
        "/overrides": {"date": "2026-03-06", "available": "no"},
        "/pause": {},
    }
    for suffix, form in posts.items():
        response = client.post(editor_path(console) + suffix, data=form)
        assert response.status_code == 400, suffix
        assert "Nothing was changed" in text(response)
    assert len(weekly(console)) == 5 and overrides(console) == []
    assert supporter_status(console)[0] == "active"


def add_other_program(console):
    """Program 'beta' with supporter Cedar; returns Cedar's id."""
    ctx = system_ctx(console.app)
    with ctx.session:
        data = {
            "slug": "beta",
            "name": "Beta School",
            "kind": "school",
            "time_zone": "America/New_York",
            "topics": ["stress"],
            "languages": ["en"],
            "modes": ["text"],
        }
        program = programs.create_program(ctx, ProgramIn.model_validate(data, strict=False))
        body = {
            "alias": "Cedar",
            "time_zone": "America/New_York",
            "languages": ["en"],
            "topics": ["stress"],
            "modes": ["text"],
        }
        cedar = roster.add_supporter(ctx, program, SupporterIn.model_validate(body, strict=False))
        return cedar.id


def test_another_programs_supporter_is_not_found(console):
    cedar = add_other_program(console)
    admin = console.client("admin")
    assert admin.get(f"{console.base()}/supporters/{cedar}/availability").status_code == 404
    assert admin.get(f"/console/p/beta/supporters/{cedar}/availability").status_code == 404
    assert admin.get("/console/p/beta/who-is-on").status_code == 404
    # the deployment operator sees every program, but only through the right slug
    operator = console.client("operator")
    assert operator.get(f"{console.base()}/supporters/{cedar}/availability").status_code == 404
    assert operator.get(f"/console/p/beta/supporters/{cedar}/availability").status_code == 200


def day_section(page, heading):
    found = re.search(rf"<h2 id=\"d-[\d-]+\">{heading}.*?</section>", page, re.S)
    assert found, heading
    return found.group(0)


def test_who_is_on_lists_the_coming_week_in_the_program_time_zone(console):
    client = console.client("coordinator")
    birch = editor_path(console, "Birch")
    console.post(client, f"{birch}/overrides", birch, date="2026-03-05", available="no")
    console.post(
        client,
        f"{birch}/overrides",
        birch,
        date="2026-03-07",
        available="yes",
        start="10:00",
        end="12:00",
    )
    console.post(client, f"{editor_path(console)}/pause", editor_path(console), until="2026-03-09")
    page = text(client.get(f"{console.base()}/who-is-on"))
    assert "Europe/London" in page and "program's time zone" in page
    wednesday = day_section(page, "Wednesday 4 March")
    assert "Birch" in wednesday and span("08:00", "20:00") in wednesday
    assert "Ash</a> (paused until 2026-03-09)" in wednesday
    thursday = day_section(page, "Thursday 5 March")
    assert "Birch" not in thursday and "Nobody is on." in thursday
    saturday = day_section(page, "Saturday 7 March")
    assert "Birch" in saturday and span("10:00", "12:00") in saturday
    assert "Nobody is on." in day_section(page, "Sunday 8 March")
    monday = day_section(page, "Monday 9 March")
    assert "Ash" in monday and "paused" not in monday
    assert "Tuesday 10 March" in page and "Wednesday 11 March" not in page


def test_who_is_on_converts_other_time_zones_and_skips_lapsed_training(console):
    ctx = system_ctx(console.app)
    with ctx.session:
        found, program = roster.get_supporter(ctx, sid(console, "Birch"))
        found.time_zone = "America/New_York"  # 08:00 there is 13:00 in London in March
        ctx.session.commit()
    client = console.client("admin")
    page = text(client.get(f"{console.base()}/who-is-on"))
    wednesday = day_section(page, "Wednesday 4 March")
    assert span("13:00", "24:00") in wednesday
    assert span("00:00", "01:00") + ", " + span("13:00", "24:00") in day_section(
        page, "Thursday 5 March"
    )
    with ctx.session:
        _, program = roster.get_supporter(ctx, sid(console, "Birch"))
        program.required_trainings = ["Peer support basics"]
        ctx.session.commit()
    wednesday = day_section(text(client.get(f"{console.base()}/who-is-on")), "Wednesday 4 March")
    assert "Nobody is on." in wednesday
    assert "training missing: Peer support basics" in wednesday


def test_who_is_on_is_for_staff_only(console):
    assert console.client("supporter").get(f"{console.base()}/who-is-on").status_code == 403
    assert console.client("coordinator").get(f"{console.base()}/who-is-on").status_code == 200
    signed_out = console.client().get(f"{console.base()}/who-is-on")
    assert signed_out.status_code == 302 and "/console/sign-in" in signed_out.headers["Location"]
