"""Roster pages: search and filter, add, edit, pause/resume/offboard, CSV import and export."""

from __future__ import annotations

import io
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from core.models import AuditEvent, Supporter
from core.schemas.programs import PolicyPatch, ProgramPatch
from core.schemas.supporters import TrainingIn
from core.services import programs, roster
from tests.console.conftest import Console, other_program_client
from tests.helpers import system_ctx

NEW = {
    "alias": "Cedar",
    "time_zone": "Europe/London",
    "languages": "en",
    "topics": ["stress", "grief"],
    "modes": "text",
    "weekly_cap": "5",
    "email": "cedar@acme.test",
}
HEADER = "alias,external_ref,time_zone,languages,topics,modes,status,email\n"
GOOD_CSV = HEADER + "Dune,HR-1,Europe/London,en,stress,text,,dune@acme.test\n"
GOOD_CSV += "Ash,,Europe/London,en;es,stress;general,text;video,,\n"
BAD_CSV = GOOD_CSV + "Elm,HR-2,Mars/Olympus,en,stress,text,,\n"


def stored(console: Console) -> dict[str, Supporter]:
    ctx = system_ctx(console.app)
    with ctx.session:
        found = ctx.session.scalars(select(Supporter)).all()
        for s in found:
            _ = (s.contacts, s.trainings)
        ctx.session.expunge_all()
        return {s.alias: s for s in found}


def audit_actions(console: Console) -> list[str]:
    ctx = system_ctx(console.app)
    with ctx.session:
        return [e.action for e in ctx.session.scalars(select(AuditEvent))]


def sid(console: Console, alias: str) -> str:
    return str(console.world.supporters[alias]["id"])


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def upload(console: Console, client: Any, csv_text: str, path: str = "/roster/import") -> Any:
    """The file posted as a browser does. The body is encoded here, in memory: werkzeug's test
    client writes a body over 500 KB to a temporary file it never closes."""
    token = console.csrf(client, console.base() + "/roster/import")
    file = FileStorage(io.BytesIO(csv_text.encode()), "roster.csv", content_type="text/csv")
    boundary, body = encode_multipart({"csrf_token": token, "file": file})
    return client.post(
        console.base() + path, data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def test_list_shows_supporters_with_badges_and_filters(console: Console) -> None:
    client = console.client("admin")
    page = text(client.get(console.base() + "/roster"))
    assert "Ash" in page and "Birch" in page
    assert 'scope="col">Training' in page and "badge good" in page
    spanish = text(client.get(console.base() + "/roster?language=es"))
    assert "Birch" in spanish and ">Ash<" not in spanish
    found = text(client.get(console.base() + "/roster?q=bir"))
    assert "Birch" in found and ">Ash<" not in found
    bad = client.get(console.base() + "/roster?status=sleeping")
    assert bad.status_code == 422 and 'role="alert"' in text(bad)
    nav = text(client.get(console.base() + "/"))
    assert 'href="/console/p/acme/roster"' in nav


def test_a_long_roster_is_shown_in_pages_that_keep_the_filters(console: Console) -> None:
    from core.console.roster import PAGE_SIZE
    from core.schemas.supporters import SupporterIn

    ctx = system_ctx(console.app)
    with ctx.session:
        program = programs.get_program(ctx, "acme")
        for n in range(PAGE_SIZE + 10):
            data = SupporterIn(
                alias=f"Willow {n:03d}",
                time_zone="Europe/London",
                languages=["en"],
                topics=["stress"],
                modes=["text"],
            )
            roster.add_supporter(ctx, program, data)
    client = console.client("coordinator")
    first = text(client.get(console.base() + "/roster?q=willow"))
    assert f"({PAGE_SIZE + 10})" in first
    assert f"Supporters 1 to {PAGE_SIZE} of {PAGE_SIZE + 10}" in first
    assert "Willow 000" in first and f"Willow {PAGE_SIZE:03d}" not in first
    assert 'href="/console/p/acme/roster?q=willow&amp;page=2" rel="next"' in first
    second = text(client.get(console.base() + "/roster?q=willow&page=2"))
    assert f"Willow {PAGE_SIZE:03d}" in second and "Willow 000" not in second
    assert 'rel="next"' not in second
    assert 'href="/console/p/acme/roster?q=willow&amp;page=1"' in second
    bad = client.get(console.base() + "/roster?page=-3")
    assert bad.status_code == 422 and "The page number is not valid" in text(bad)
    beyond = text(client.get(console.base() + "/roster?q=willow&page=9"))
    assert "No supporter matches these filters." in beyond


def test_training_filter_and_unmatchable(console: Console) -> None:
    ctx = system_ctx(console.app)
    with ctx.session:
        programs.update_program(
            ctx, "acme", ProgramPatch(policy=PolicyPatch(required_trainings=["Peer basics"]))
        )
        training = TrainingIn(
            name="Peer basics", completed_on=date(2025, 6, 1), expires_on=date(2026, 5, 1)
        )
        roster.add_training(ctx, uuid.UUID(sid(console, "Ash")), training)
    client = console.client("coordinator")
    expiring = text(client.get(console.base() + "/roster?training=expiring"))
    assert ">Ash<" in expiring and "Birch" not in expiring and "2026-05-01" in expiring
    missing = text(client.get(console.base() + "/roster?training=missing"))
    assert "Birch" in missing and "unmatchable" in missing and "training missing" in missing
    console.clock.advance(days=60)  # past 1 May: Ash's certificate lapsed
    console.clients.clear()  # and the console session with it; sign in again
    client = console.client("coordinator")
    lapsed = text(client.get(console.base() + "/roster?training=lapsed"))
    assert ">Ash<" in lapsed and "training lapsed: Peer basics" in lapsed


def test_add_supporter(console: Console) -> None:
    client = console.client("admin")
    form = console.base() + "/roster/new"
    added = console.post(client, form, **NEW)
    assert added.status_code == 302
    page = text(client.get(added.headers["Location"]))
    assert "Cedar was added to the roster" in page
    cedar = stored(console)["Cedar"]
    assert cedar.topics == ["stress", "grief"] and cedar.weekly_cap == 5
    assert [c.address for c in cedar.contacts] == ["cedar@acme.test"]
    assert "supporter.added" in audit_actions(console)


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("alias", "", "at least 2 characters"),
        ("time_zone", "Mars/Olympus", "unknown time zone"),
        ("weekly_cap", "lots", "whole number"),
        ("email", "not-an-address", "e-mail address"),
        ("topics", "astrology", "not offered"),
    ],
)
def test_add_with_bad_input_names_the_field(
    console: Console, field: str, value: str, shown: str
) -> None:
    client = console.client("admin")
    response = console.post(client, console.base() + "/roster/new", **{**NEW, field: value})
    page = text(response)
    assert response.status_code == 422
    assert f'id="err-{field}" class="error" role="alert"' in page and shown in page
    assert f'aria-describedby="err-{field}' in page
    assert "Cedar" not in stored(console)


def test_add_duplicate_alias_is_refused(console: Console) -> None:
    client = console.client("admin")
    response = console.post(client, console.base() + "/roster/new", **{**NEW, "alias": "Ash"})
    assert response.status_code == 409 and "already used" in text(response)
    assert len(stored(console)) == 2


def test_edit_supporter_and_bad_edit_stores_nothing(console: Console) -> None:
    client = console.client("admin")
    path = f"{console.base()}/roster/{sid(console, 'Birch')}"
    form = text(client.get(path))
    assert 'value="Birch"' in form and 'value="es" checked' in form
    assert f'{console.base()}/supporters/{sid(console, "Birch")}/availability"' in form
    fields = {**NEW, "alias": "Birch", "languages": "es", "weekly_cap": "3", "email": ""}
    bad = console.post(client, path, **{**fields, "concurrent_cap": "99", "alias": "Birchy"})
    assert bad.status_code == 422 and "at most 20" in text(bad)
    assert 'value="Birchy"' in text(bad)  # what was typed is kept
    birch = stored(console)["Birch"]
    assert birch.weekly_cap is None and birch.topics == ["stress", "general"]
    clash = console.post(client, path, **{**fields, "alias": "Ash"})
    assert clash.status_code == 409 and 'id="err-alias"' in text(clash)
    assert "Birch" in stored(console)
    saved = console.post(client, path, **fields)
    assert saved.status_code == 302
    birch = stored(console)["Birch"]
    assert birch.weekly_cap == 3 and birch.topics == ["stress", "grief"]
    assert "supporter.updated" in audit_actions(console)


def test_pause_until_resume_and_offboard(console: Console) -> None:
    client = console.client("admin")
    path = f"{console.base()}/roster/{sid(console, 'Ash')}"
    past = console.post(client, path + "/pause", path, until="2026-03-01")
    assert past.status_code == 422 and "later date than today" in text(past)
    assert stored(console)["Ash"].status == "active"
    garbled = console.post(client, path + "/pause", path, until="next week")
    assert garbled.status_code == 422 and 'id="err-until"' in text(garbled)
    paused = console.post(client, path + "/pause", path, until="2026-04-01")
    assert paused.status_code == 302
    ash = stored(console)["Ash"]
    assert ash.status == "paused" and ash.paused_until == date(2026, 4, 1)
    assert "until 2026-04-01" in text(client.get(console.base() + "/roster?status=paused"))
    assert console.post(client, path + "/resume", path).status_code == 302
    assert stored(console)["Ash"].status == "active"
    confirm = text(client.get(path + "/offboard"))
    assert "cannot be undone" in confirm
    unticked = console.post(client, path + "/offboard", path + "/offboard")
    assert unticked.status_code == 422 and stored(console)["Ash"].status == "active"
    done = console.post(client, path + "/offboard", path + "/offboard", confirm="yes")
    assert done.status_code == 302
    ash = stored(console)["Ash"]
    assert ash.status == "offboarded" and ash.contacts == []
    actions = audit_actions(console)
    assert {"supporter.paused", "supporter.resumed", "supporter.offboarded"} <= set(actions)


def test_coordinator_may_pause_but_not_change(console: Console) -> None:
    client = console.client("coordinator")
    path = f"{console.base()}/roster/{sid(console, 'Ash')}"
    page = text(client.get(path))
    assert "Save changes" not in page and "Offboard" not in page and "Pause" in page
    assert console.post(client, path + "/pause", path).status_code == 302
    assert stored(console)["Ash"].status == "paused"
    token = console.csrf(client, path)
    for target in ("", "/offboard"):
        response = client.post(path + target, data={"csrf_token": token, **NEW, "confirm": "yes"})
        assert response.status_code == 403
    assert (
        client.post(console.base() + "/roster/new", data={"csrf_token": token}).status_code == 403
    )
    assert client.get(console.base() + "/roster/import").status_code == 403
    assert stored(console)["Ash"].status == "paused" and "Cedar" not in stored(console)


def test_supporter_is_refused_and_signed_out_sent_to_sign_in(console: Console) -> None:
    client = console.client("supporter")
    for path in ("/roster", f"/roster/{sid(console, 'Ash')}", "/roster/export.csv"):
        assert client.get(console.base() + path).status_code == 403
    anonymous = console.client(None).get(console.base() + "/roster")
    assert anonymous.status_code == 302 and "sign-in" in anonymous.headers["Location"]


def test_admin_of_another_program_gets_404(console: Console) -> None:
    client = other_program_client(console)
    assert client.get("/console/p/globex/roster").status_code == 200
    assert client.get(console.base() + "/roster").status_code == 404
    ash = f"/console/p/globex/roster/{sid(console, 'Ash')}"
    assert client.get(ash).status_code == 404
    token = console.csrf(client, "/console/p/globex/roster")
    assert client.post(ash + "/pause", data={"csrf_token": token}).status_code == 404
    assert stored(console)["Ash"].status == "active"


def test_missing_csrf_changes_nothing(console: Console) -> None:
    client = console.client("admin")
    path = f"{console.base()}/roster/{sid(console, 'Ash')}"
    posts = {
        "/roster/new": NEW,
        f"/roster/{sid(console, 'Ash')}": {**NEW, "alias": "Ashley"},
        f"/roster/{sid(console, 'Ash')}/pause": {},
        f"/roster/{sid(console, 'Ash')}/offboard": {"confirm": "yes"},
        "/roster/import/confirm": {"csv": GOOD_CSV},
    }
    for target, form in posts.items():
        response = client.post(console.base() + target, data=form)
        assert response.status_code == 400, target
        assert "Nothing was changed" in text(response)
    assert sorted(stored(console)) == ["Ash", "Birch"]
    assert stored(console)["Ash"].status == "active"
    assert client.get(path).status_code == 200


def test_import_preview_shows_row_errors_and_stores_nothing(console: Console) -> None:
    client = console.client("admin")
    response = upload(console, client, BAD_CSV)
    page = text(response)
    assert response.status_code == 422
    assert "<td>4</td><td>time_zone</td>" in page and "unknown time zone" in page
    assert "Import these supporters" not in page
    assert sorted(stored(console)) == ["Ash", "Birch"]


def test_import_preview_then_confirm(console: Console) -> None:
    client = console.client("admin")
    preview = text(upload(console, client, GOOD_CSV))
    assert "would add 1, change 1 and leave 0" in preview
    assert '<th scope="row">Dune</th><td>added</td>' in preview
    assert '<th scope="row">Ash</th><td>changed</td>' in preview
    assert sorted(stored(console)) == ["Ash", "Birch"]  # a preview stores nothing
    token = console.csrf(client, console.base() + "/roster/import")
    done = client.post(
        console.base() + "/roster/import/confirm",
        data={"csrf_token": token, "csv": GOOD_CSV},
        content_type="multipart/form-data",
    )
    assert done.status_code == 302
    assert "1 added, 1 changed, 0 unchanged" in text(client.get(done.headers["Location"]))
    roster_now = stored(console)
    assert roster_now["Dune"].external_ref == "HR-1" and roster_now["Ash"].languages == ["en", "es"]
    assert "supporters.imported" in audit_actions(console)


def test_import_rejects_missing_large_and_non_utf8_files(console: Console) -> None:
    client = console.client("admin")
    token = console.csrf(client, console.base() + "/roster/import")
    empty = client.post(console.base() + "/roster/import", data={"csrf_token": token})
    assert empty.status_code == 422 and "choose a CSV file" in text(empty)
    latin = upload(console, client, "")
    assert latin.status_code == 422
    data = {"csrf_token": token, "file": (io.BytesIO("alias\nÉlan".encode("latin-1")), "r.csv")}
    wrong = client.post(console.base() + "/roster/import", data=data)
    assert wrong.status_code == 422 and "not UTF-8" in text(wrong)
    big = client.post(
        console.base() + "/roster/import/confirm",
        data={"csrf_token": token, "csv": "a" * 2_005_000},
    )
    assert big.status_code == 422 and "the file is too large: at most 1953 KB" in text(big)
    huge = upload(console, client, "a" * 2_100_000)
    assert huge.status_code == 413
    assert "too large" in text(huge) and "Nothing was changed" in text(huge)
    assert sorted(stored(console)) == ["Ash", "Birch"]


def test_a_roster_file_larger_than_an_ordinary_form_is_imported(console: Console) -> None:
    rows = "".join(
        f"Rowan {n:04d},HR-{n:04d},Europe/London,en,stress,text,,rowan.{n:04d}@acme.test\n"
        for n in range(4500)
    )
    csv_text = HEADER + rows
    assert len(csv_text) > 300 * 1024  # above the 256 KB every other form and API call takes
    client = console.client("admin")
    preview = upload(console, client, csv_text)
    assert preview.status_code == 200, text(preview)[:500]
    assert "4500" in text(preview)
    token = console.csrf(client, console.base() + "/roster/import")
    done = client.post(
        console.base() + "/roster/import/confirm",
        data={"csrf_token": token, "csv": csv_text},
        content_type="multipart/form-data",
    )
    assert done.status_code == 302, text(done)[:500]
    assert len(stored(console)) == 4502


def test_export_downloads_csv(console: Console) -> None:
    response = console.client("coordinator").get(console.base() + "/roster/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition == 'attachment; filename="peerline-roster-acme-2026-03-04.csv"'
    lines = text(response).splitlines()
    assert lines[0].startswith("alias,external_ref") and lines[1].startswith("Ash,")
    assert "supporters.exported" in audit_actions(console)  # who took the addresses is on record
