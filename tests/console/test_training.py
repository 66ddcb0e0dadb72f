"""The training page: required trainings, records with expiry badges, who is unmatchable and why."""

from __future__ import annotations

import re
import uuid

from core.models import AuditEvent
from core.services import programs, roster
from tests.console.test_availability import add_other_program
from tests.helpers import system_ctx

# The frozen clock starts on Wednesday 2026-03-04 09:00 UTC (the same date in Europe/London).
REQUIRED = ["Peer support basics", "Safeguarding"]


def sid(console, alias="Ash"):
    return uuid.UUID(console.world.supporters[alias]["id"])


def require_trainings(console, names=REQUIRED):
    ctx = system_ctx(console.app)
    with ctx.session:
        programs.get_program(ctx, "acme").required_trainings = list(names)
        ctx.session.commit()


def records(console, alias="Ash"):
    ctx = system_ctx(console.app)
    with ctx.session:
        found, _ = roster.get_supporter(ctx, sid(console, alias))
        return [(t.id, t.name, t.completed_on.isoformat(), t.expires_on) for t in found.trainings]


def text(response):
    return response.get_data(as_text=True)


def add(console, client, alias="Ash", **fields):
    form = {"supporter": str(sid(console, alias)), **fields}
    return console.post(
        client, f"{console.base()}/training/records", f"{console.base()}/training", **form
    )


def page_after(console, days, path):
    """Move the frozen clock and sign in again (a console session lasts at most a day)."""
    console.clock.advance(days=days)
    console.clients.pop("admin", None)
    return console.client("admin").get(path).get_data(as_text=True)


def badge(page, supporter_id, training):
    """The badge (tone, label) of one training row in one supporter's table."""
    part = page.split(f'<h3 id="s-{supporter_id}">', 1)[1].split("</section>", 1)[0]
    row = re.search(
        rf'<th scope="row">{re.escape(training)}</th>.*?<span class="badge (\w+)">(.*?)</span>',
        part,
        re.S,
    )
    assert row, f"no row {training}"
    return row.group(1), row.group(2)


def test_required_trainings_and_who_is_unmatchable_and_why(console):
    require_trainings(console)
    page = text(console.client("coordinator").get(f"{console.base()}/training"))
    assert "<li>Peer support basics</li>" in page and "<li>Safeguarding</li>" in page
    unmatchable = page.split("Who is unmatchable and why", 1)[1].split("<h2", 1)[0]
    assert '<th scope="row">Ash</th>' in unmatchable and '<th scope="row">Birch</th>' in unmatchable
    assert "training missing: Safeguarding" in unmatchable
    assert badge(page, sid(console), "Safeguarding") == ("lapsed", "missing")


def test_staff_add_a_record_and_the_supporter_becomes_matchable(console):
    require_trainings(console, ["Peer support basics"])
    client = console.client("admin")
    added = add(
        console,
        client,
        name="Peer support basics",
        completed_on="2026-01-10",
        expires_on="2029-01-10",
    )
    assert added.status_code == 302
    page = text(client.get(added.headers["Location"]))
    assert "Recorded Peer support basics for Ash." in page
    assert badge(page, sid(console), "Peer support basics") == ("good", "current")
    unmatchable = page.split("Who is unmatchable and why", 1)[1].split("<h2", 1)[0]
    assert "Ash" not in unmatchable and "Birch" in unmatchable
    ctx = system_ctx(console.app)
    with ctx.session:
        actions = [e.action for e in ctx.session.query(AuditEvent)]
    assert "training.recorded" in actions


def test_bad_records_are_422_naming_the_field_and_nothing_is_stored(console):
    client = console.client("coordinator")
    cases = {
        "expires_on": dict(name="CPR", completed_on="2026-01-10", expires_on="2025-01-10"),
        "name": dict(name="  ", completed_on="2026-01-10"),
        "completed_on": dict(name="CPR", completed_on="10/01/2026"),
    }
    for field, form in cases.items():
        response = add(console, client, **form)
        assert response.status_code == 422, field
        body = text(response)
        assert f'<p class="error" role="alert" id="{field}-error">' in body, field
        assert f'aria-describedby="{field}-error"' in body, field
    assert 'value="10/01/2026"' in body  # typed input shown again
    nobody = console.post(
        client,
        f"{console.base()}/training/records",
        f"{console.base()}/training",
        supporter="",
        name="CPR",
        completed_on="2026-01-10",
    )
    assert nobody.status_code == 422 and 'id="supporter-error"' in text(nobody)
    assert records(console) == [] and records(console, "Birch") == []


def test_badges_warn_at_90_and_30_days_and_show_lapsed(console):
    require_trainings(console, ["Peer support basics"])
    client = console.client("admin")
    add(
        console,
        client,
        name="Peer support basics",
        completed_on="2025-06-01",
        expires_on="2026-06-03",
    )
    training, ash, name = f"{console.base()}/training", sid(console), "Peer support basics"
    assert badge(text(client.get(training)), ash, name) == ("good", "current")
    steps = [  # days to move on, then the badge expected
        (1, ("warn", "expires in 90 days")),  # 2026-03-05
        (59, ("warn", "expires in 31 days")),  # 2026-05-03
        (1, ("bad", "expires in 30 days")),
        (29, ("bad", "expires in 1 day")),  # 2026-06-02, the last day
        (1, ("lapsed", "lapsed")),  # 2026-06-03: lapsed on the expiry date
    ]
    for days, expected in steps:
        page = page_after(console, days, training)
        assert badge(page, ash, name) == expected, expected
    assert "training lapsed: Peer support basics" in page
    client = console.client("admin")
    add(console, client, name=name, completed_on="2026-06-03", expires_on="2029-06-03")
    page = text(client.get(training))
    assert "training lapsed" not in page
    assert badge(page, ash, name) == ("muted", "renewed")  # the older record


def test_staff_delete_a_record(console):
    client = console.client("coordinator")
    add(console, client, name="CPR", completed_on="2026-01-10")
    [(record_id, *_)] = records(console)
    path = f"{console.base()}/training/{sid(console)}/records/{record_id}/delete"
    deleted = console.post(client, path, f"{console.base()}/training")
    assert deleted.status_code == 302
    assert "Deleted a training record of Ash." in text(client.get(deleted.headers["Location"]))
    assert records(console) == []
    again = console.post(client, path, f"{console.base()}/training")
    assert again.status_code == 404


def test_a_supporter_sees_only_their_own_trainings(console):
    require_trainings(console, ["Peer support basics"])
    staff = console.client("admin")
    add(
        console,
        staff,
        name="Peer support basics",
        completed_on="2025-06-01",
        expires_on="2026-04-01",
    )
    add(console, staff, "Birch", name="Crisis first aid", completed_on="2025-06-01")
    supporter = console.client("supporter")
    page = text(supporter.get(f"{console.base()}/my-trainings"))
    assert "My trainings" in page and "Peer support basics" in page
    assert "expires in 28 days" in page
    assert "Crisis first aid" not in page and "Birch" not in page
    assert supporter.get(f"{console.base()}/training").status_code == 403
    [(birch_record, *_)] = records(console, "Birch")
    path = f"{console.base()}/training/{sid(console, 'Birch')}/records/{birch_record}/delete"
    assert console.post(supporter, path, f"{console.base()}/my-trainings").status_code == 403
    form = {"name": "Fake", "completed_on": "2026-01-01"}
    refused = console.post(
        supporter,
        f"{console.base()}/training/records",
        f"{console.base()}/my-trainings",
        supporter=str(sid(console)),
        **form,
    )
    assert refused.status_code == 403
    assert [r[1] for r in records(console)] == ["Peer support basics"]
    assert len(records(console, "Birch")) == 1
    assert console.client("coordinator").get(f"{console.base()}/my-trainings").status_code == 403


def test_training_forms_without_csrf_are_refused(console):
    client = console.client("admin")
    add(console, client, name="CPR", completed_on="2026-01-10")
    [(record_id, *_)] = records(console)
    client.get(f"{console.base()}/training")
    form = {"supporter": str(sid(console)), "name": "X", "completed_on": "2026-01-10"}
    assert client.post(f"{console.base()}/training/records", data=form).status_code == 400
    path = f"{console.base()}/training/{sid(console)}/records/{record_id}/delete"
    assert client.post(path).status_code == 400
    assert [r[1] for r in records(console)] == ["CPR"]


def test_another_programs_training_is_not_found(console):
    cedar = add_other_program(console)
    admin = console.client("admin")
    assert admin.get("/console/p/beta/training").status_code == 404
    form = {"supporter": str(cedar), "name": "CPR", "completed_on": "2026-01-10"}
    response = console.post(
        admin, f"{console.base()}/training/records", f"{console.base()}/training", **form
    )
    assert response.status_code == 422 and 'id="supporter-error"' in text(response)
    path = f"{console.base()}/training/{cedar}/records/{uuid.uuid4()}/delete"
    assert console.post(admin, path, f"{console.base()}/training").status_code == 404
