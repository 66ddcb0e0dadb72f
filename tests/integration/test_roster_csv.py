"""Roster CSV import and export, on SQLite and (when configured) PostgreSQL, service and CLI."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from core.cli import main
from core.errors import CsvImportFailed, Forbidden
from core.models import AuditEvent, Offer, Supporter
from core.services import programs, roster, roster_csv, roster_import
from core.services.access import Ctx, Principal
from tests.helpers import EVERY_WEEKDAY, World, make_world, system_ctx

HEADER = (
    "alias,external_ref,time_zone,languages,topics,modes,weekly_cap,concurrent_cap,status,"
    "email,slack,teams"
)
GOOD = (
    "\n".join(
        [
            HEADER,
            "River Otter,E-1,Europe/London,en;es,stress;grief,text,3,1,,otter@acme.test,U123,",
            "Quiet Fox,,America/New_York,en,general,,,,paused,,,fox@acme.test",
            "Calm Heron,E-3,Europe/Madrid,es,grief,video,,,active,heron@acme.test,,",
        ]
    )
    + "\n"
)


@pytest.fixture
def world(app: Flask) -> World:
    return make_world(app, app.test_client())


def run_import(
    app: Flask, text: str, *, principal: Principal | None = None, dry_run: bool = False
) -> roster_import.ImportSummary:
    ctx = _ctx(app, principal)
    with ctx.session:
        program = programs.get_program(ctx, "acme")
        return roster_import.import_csv(ctx, program, text, dry_run=dry_run)


def run_export(app: Flask, *, principal: Principal | None = None) -> str:
    ctx = _ctx(app, principal)
    with ctx.session:
        return roster_csv.export_csv(ctx, programs.get_program(ctx, "acme"))


def import_errors(app: Flask, text: str) -> list[dict[str, Any]]:
    with pytest.raises(CsvImportFailed) as failed:
        run_import(app, text)
    return failed.value.row_errors


def _ctx(app: Flask, principal: Principal | None) -> Ctx:
    ctx = system_ctx(app)
    if principal is None:
        return ctx
    return Ctx(session=ctx.session, principal=principal, now=ctx.now, cipher=ctx.cipher)


def _principal(app: Flask, role: str) -> Principal:
    ctx = system_ctx(app)
    with ctx.session:
        return Principal(role=role, program_id=programs.get_program(ctx, "acme").id)


def snapshot(app: Flask) -> dict[str, dict[str, Any]]:
    """Every supporter of the database by alias, as plain values."""
    ctx = system_ctx(app)
    with ctx.session:
        return {
            s.alias: {
                "id": s.id,
                "external_ref": s.external_ref,
                "time_zone": s.time_zone,
                "languages": s.languages,
                "topics": s.topics,
                "modes": s.modes,
                "weekly_cap": s.weekly_cap,
                "concurrent_cap": s.concurrent_cap,
                "status": s.status,
                "contacts": sorted((c.platform, c.address) for c in s.contacts),
            }
            for s in ctx.session.scalars(select(Supporter))
        }


def audit_count(app: Flask, action: str) -> int:
    ctx = system_ctx(app)
    with ctx.session:
        return (
            ctx.session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
            )
            or 0
        )


def offboard(app: Flask, supporter_id: str) -> None:
    ctx = system_ctx(app)
    with ctx.session:
        roster.set_status(ctx, uuid.UUID(supporter_id), "offboarded")


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_good_file_creates_supporters(app: Flask, world: World) -> None:
    assert run_import(app, GOOD) == roster_import.ImportSummary(created=3, updated=0, unchanged=0)
    found = snapshot(app)
    assert set(found) == {"River Otter", "Quiet Fox", "Calm Heron"}
    otter = found["River Otter"]
    assert otter["external_ref"] == "E-1" and otter["time_zone"] == "Europe/London"
    assert otter["languages"] == ["en", "es"] and otter["topics"] == ["stress", "grief"]
    assert (otter["modes"], otter["weekly_cap"], otter["concurrent_cap"]) == (["text"], 3, 1)
    assert otter["contacts"] == [("email", "otter@acme.test"), ("slack", "U123")]
    fox = found["Quiet Fox"]
    assert fox["status"] == "paused" and fox["external_ref"] is None
    assert fox["modes"] == ["text", "video"]  # blank = the schema's default
    assert (fox["weekly_cap"], fox["concurrent_cap"]) == (None, None)  # blank = program default
    assert fox["contacts"] == [("teams", "fox@acme.test")]
    assert found["Calm Heron"]["status"] == "active"
    assert audit_count(app, "supporters.imported") == 1


def test_audit_event_counts_without_personal_data(app: Flask, world: World) -> None:
    run_import(app, GOOD)
    ctx = system_ctx(app)
    with ctx.session:
        event = ctx.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "supporters.imported")
        ).one()
        assert event.details == {"created": 3, "updated": 0, "unchanged": 0}
        assert event.actor_role == "system"


def test_bom_crlf_and_any_column_order_accepted(app: Flask, world: World) -> None:
    text = (
        "\ufefftopics,languages,time_zone,alias\r\n"
        + "grief,en,Europe/London,River Otter\r\n\r\n"
        + '"stress;general",es,Asia/Tokyo,"Quiet ""Fox"""\r\n'
    )
    assert run_import(app, text).created == 2
    assert snapshot(app)['Quiet "Fox"']["topics"] == ["stress", "general"]


def test_reimport_updates_by_external_ref_and_by_alias(app: Flask, world: World) -> None:
    world.add_supporter(
        "Quiet Fox",
        contacts=[
            {"platform": "lms", "address": "canvas-7"},
            {"platform": "email", "address": "old@acme.test"},
        ],
    )
    run_import(app, GOOD)  # Quiet Fox has no external_ref: matched by alias
    before = snapshot(app)
    changed = "\n".join(
        [
            HEADER,
            "River Otter Two,E-1,Europe/Paris,en,stress,text,3,1,paused,otter@acme.test,,",
            "Quiet Fox,,America/New_York,en,general,,,,active,new@acme.test,,",
            "Calm Heron,E-3,Europe/Madrid,es,grief,video,,,active,heron@acme.test,,",
        ]
    )
    summary = run_import(app, changed)
    assert summary == roster_import.ImportSummary(created=0, updated=2, unchanged=1)
    after = snapshot(app)
    assert "River Otter" not in after
    renamed = after["River Otter Two"]
    assert renamed["id"] == before["River Otter"]["id"]
    assert (renamed["time_zone"], renamed["status"]) == ("Europe/Paris", "paused")
    assert renamed["contacts"] == [("email", "otter@acme.test")]  # slack dropped: file's contacts
    fox = after["Quiet Fox"]
    assert fox["id"] == before["Quiet Fox"]["id"] and fox["status"] == "active"
    # e-mail replaced; the LMS contact, which a file cannot hold, is kept
    assert fox["contacts"] == [("email", "new@acme.test"), ("lms", "canvas-7")]
    assert after["Calm Heron"] == before["Calm Heron"]


def test_row_with_new_ref_adopts_supporter_matched_by_alias(app: Flask, world: World) -> None:
    world.add_supporter("Quiet Fox")
    text = f"{HEADER}\nQuiet Fox,HR-9,Europe/London,en,stress;general,,,,,,,\n"
    assert run_import(app, text).updated == 1
    assert snapshot(app)["Quiet Fox"]["external_ref"] == "HR-9"
    blank_ref = f"{HEADER}\nQuiet Fox,,Europe/London,en,stress;general,,,,,,,\n"
    assert run_import(app, blank_ref).unchanged == 1  # a blank ref keeps the one on record
    assert snapshot(app)["Quiet Fox"]["external_ref"] == "HR-9"


def test_export_then_import_changes_nothing(app: Flask, world: World) -> None:
    run_import(app, GOOD)
    world.add_supporter("Lms Only", contacts=[{"platform": "lms", "address": "canvas-1"}])
    gone = world.add_supporter(
        "Gone Away",
        external_ref="E-9",
        contacts=[{"platform": "email", "address": "gone@acme.test"}],
    )
    offboard(app, gone["id"])
    before = snapshot(app)
    exported = run_export(app)
    assert [r["alias"] for r in rows_of(exported)] == [
        "Calm Heron",
        "Gone Away",
        "Lms Only",
        "Quiet Fox",
        "River Otter",
    ]
    gone_row = rows_of(exported)[1]
    assert gone_row["status"] == "offboarded" and gone_row["email"] == ""
    assert run_import(app, exported) == roster_import.ImportSummary(0, 0, 5)
    assert snapshot(app) == before
    assert run_export(app) == exported


def test_every_bad_row_is_reported_and_nothing_stored(app: Flask, world: World) -> None:
    world.add_supporter("Existing One")
    text = "\n".join(
        [
            HEADER + ",shoe_size",
            "Fox,,Mars/Base,en,stress,,,,,,,,42",
            "Owl,,Europe/London,en,cooking,,,,,,,,",
            ",,Europe/London,en,stress,,,,,,,,",
            "Fox,,Europe/London,en,stress,,,,,,,,",
            "Badger,,Europe/London,en,stress,,many,0,,,,,",
            "Good Row,,Europe/London,en,stress,,,,,,,,",
        ]
    )
    before = snapshot(app)
    errors = import_errors(app, text)
    assert [(e["row"], e["field"]) for e in errors] == [
        (1, "shoe_size"),
        (2, "time_zone"),
        (3, "topics"),
        (4, "alias"),
        (5, "alias"),
        (6, "weekly_cap"),
        (6, "concurrent_cap"),
    ]
    messages = {(e["row"], e["field"]): e["message"] for e in errors}
    assert "unknown column 'shoe_size'" in messages[1, "shoe_size"]
    assert messages[2, "time_zone"].startswith("unknown time zone 'Mars/Base'")
    assert messages[3, "topics"].startswith("cooking not offered by this program")
    assert messages[4, "alias"] == "required"
    assert messages[5, "alias"] == "'Fox' is also on row 2"
    assert messages[6, "weekly_cap"] == "'many' is not a whole number"
    assert messages[6, "concurrent_cap"] == "must be at least 1"
    assert snapshot(app) == before
    assert audit_count(app, "supporters.imported") == 0


def test_row_numbers_are_file_lines_across_quoted_line_breaks(app: Flask, world: World) -> None:
    text = (
        f"{HEADER}\n"
        '"Two\nLines",,Europe/London,en,stress,,,,,,,\n'
        'Fox,,Nowhere/City,"en\n",stress,,,,,,,\n'
        "Owl,,Europe/London,en,cooking,,,,,,,\n"
    )
    errors = import_errors(app, text)
    assert [(e["row"], e["field"]) for e in errors] == [(4, "time_zone"), (6, "topics")]


def test_missing_required_column_is_one_error(app: Flask, world: World) -> None:
    errors = import_errors(app, "alias,languages,topics\nFox,en,stress\nOwl,en,stress\n")
    assert errors == [
        {
            "row": 1,
            "field": "time_zone",
            "message": "missing column 'time_zone'; every file needs alias, time_zone, "
            "languages, topics",
        }
    ]


def test_offboarded_supporter_is_never_brought_back(app: Flask, world: World) -> None:
    gone = world.add_supporter("Gone Away", external_ref="E-9")
    offboard(app, gone["id"])
    by_alias = f"{HEADER}\nGone Away,,Europe/London,en,stress,,,,,,,\n"
    by_ref = f"{HEADER}\nNew Name,E-9,Europe/London,en,stress,,,,active,,,\n"
    for text, field in ((by_alias, "alias"), (by_ref, "external_ref")):
        [error] = import_errors(app, text)
        assert error["row"] == 2 and error["field"] == field
        assert "offboarded" in error["message"]
    edited = f"{HEADER}\nGone Away,E-9,Europe/Paris,en,stress,,,,offboarded,,,\n"
    assert import_errors(app, edited)[0]["field"] == "status"
    assert snapshot(app)["Gone Away"]["status"] == "offboarded"


def test_roster_errors_are_reported_with_file_errors(app: Flask, world: World) -> None:
    gone = world.add_supporter("Gone Away")
    offboard(app, gone["id"])
    text = "\n".join(
        [HEADER, "Fox,,Mars/Base,en,stress,,,,,,,", "Gone Away,,Europe/London,en,stress,,,,,,,"]
    )
    assert [(e["row"], e["field"]) for e in import_errors(app, text)] == [
        (2, "time_zone"),
        (3, "alias"),
    ]


def test_file_cannot_offboard_or_add_offboarded(app: Flask, world: World) -> None:
    world.add_supporter("Still Here")
    text = "\n".join(
        [
            HEADER,
            "Still Here,,Europe/London,en,stress;general,,,,offboarded,,,",
            "Never Was,,Europe/London,en,stress,,,,offboarded,,,",
        ]
    )
    assert [(e["row"], e["field"]) for e in import_errors(app, text)] == [
        (2, "status"),
        (3, "status"),
    ]
    assert snapshot(app)["Still Here"]["status"] == "active"


def test_dry_run_counts_and_writes_nothing(app: Flask, world: World) -> None:
    world.add_supporter("Quiet Fox")
    before = snapshot(app)
    summary = run_import(app, GOOD, dry_run=True)
    assert summary == roster_import.ImportSummary(created=2, updated=1, unchanged=0)
    assert snapshot(app) == before
    assert audit_count(app, "supporters.imported") == 0


def test_dry_run_reports_row_errors(app: Flask, world: World) -> None:
    with pytest.raises(CsvImportFailed):
        run_import(app, f"{HEADER}\nFox,,Mars/Base,en,stress,,,,,,,\n", dry_run=True)


def test_export_escapes_formulas_and_round_trips(app: Flask, world: World) -> None:
    world.add_supporter(
        '=HYPERLINK("http://x")',
        external_ref="+44",
        contacts=[{"platform": "slack", "address": "@evil"}],
    )
    world.add_supporter("-Dash", external_ref="@ref")
    exported = run_export(app)
    cells = [row for row in csv.reader(io.StringIO(exported, newline=""))][1:]
    assert cells[0][:2] == ["'-Dash", "'@ref"]
    assert cells[1][:2] == ['\'=HYPERLINK("http://x")', "'+44"]
    assert cells[1][10] == "'@evil"
    before = snapshot(app)
    assert run_import(app, exported).unchanged == 2
    assert snapshot(app) == before


def test_address_of_supporter_outside_file_is_a_row_error(app: Flask, world: World) -> None:
    world.add_supporter("Has Mail", contacts=[{"platform": "email", "address": "x@acme.test"}])
    before = snapshot(app)
    errors = import_errors(app, f"{HEADER}\nNew One,,Europe/London,en,stress,,,,,x@acme.test,,\n")
    assert errors == [
        {
            "row": 2,
            "field": "email",
            "message": "'x@acme.test' is already used by another supporter",
        }
    ]
    assert snapshot(app) == before


def test_alias_of_supporter_outside_file_is_a_row_error(app: Flask, world: World) -> None:
    world.add_supporter("Quiet Fox", external_ref="HR-1")
    errors = import_errors(app, f"{HEADER}\nQuiet Fox,HR-2,Europe/London,en,stress,,,,,,,\n")
    assert [(e["row"], e["field"]) for e in errors] == [(2, "alias")]


def test_address_and_alias_move_between_rows_of_one_file(app: Flask, world: World) -> None:
    run_import(app, GOOD)
    moved = "\n".join(
        [
            HEADER,
            "River Otter,E-1,Europe/London,en;es,stress;grief,text,3,1,,,U123,",
            "Otter Two,E-2,Europe/London,en,stress,,,,,otter@acme.test,,",
            "Heron Renamed,E-3,Europe/Madrid,es,grief,video,,,active,heron@acme.test,,",
            "Calm Heron,E-4,Europe/Madrid,es,grief,video,,,active,,,",
        ]
    )
    assert run_import(app, moved) == roster_import.ImportSummary(created=2, updated=2, unchanged=0)
    after = snapshot(app)
    assert after["Otter Two"]["contacts"] == [("email", "otter@acme.test")]
    assert after["Calm Heron"]["external_ref"] == "E-4"


def test_swapped_aliases_roll_back_with_a_row_error(app: Flask, world: World) -> None:
    run_import(
        app,
        f"{HEADER}\nAlpha,R-1,Europe/London,en,stress,,,,,,,\n"
        "Beta,R-2,Europe/London,en,stress,,,,,,,\n",
    )
    before = snapshot(app)
    errors = import_errors(
        app,
        f"{HEADER}\nBeta,R-1,Europe/London,en,stress,,,,,,,\n"
        "Alpha,R-2,Europe/London,en,stress,,,,,,,\n",
    )
    [error] = errors
    assert error["row"] in (2, 3) and error["field"] == "alias"
    assert "import in two steps" in error["message"]
    assert snapshot(app) == before


def test_two_rows_matching_one_supporter(app: Flask, world: World) -> None:
    world.add_supporter("Quiet Fox", external_ref="HR-1")
    text = "\n".join(
        [
            HEADER,
            "Fox Renamed,HR-1,Europe/London,en,stress,,,,,,,",
            "Quiet Fox,,Europe/London,en,stress,,,,,,,",
        ]
    )
    [error] = import_errors(app, text)
    assert error == {"row": 3, "field": "alias", "message": "matches the same supporter as row 2"}


def test_pausing_by_file_withdraws_pending_offers(app: Flask, client: Any, world: World) -> None:
    world.add_supporter("River Otter", external_ref="E-1", weekly=EVERY_WEEKDAY)
    created = client.post(
        "/api/v1/requests",
        json={
            "program": "acme",
            "topic": "stress",
            "urgency": "now",
            "mode": "text",
            "language": "en",
        },
    )
    assert created.status_code == 201, created.json
    assert created.json["status"] == "offered"
    run_import(app, f"{HEADER}\nRiver Otter,E-1,Europe/London,en,stress;general,,,,paused,,,\n")
    ctx = system_ctx(app)
    with ctx.session:
        assert [o.status for o in ctx.session.scalars(select(Offer))] == ["withdrawn"]


def test_size_limits(app: Flask, world: World) -> None:
    many = "alias,time_zone,languages,topics\n" + "".join(
        f"S{i:05d},UTC,en,stress\n" for i in range(roster_csv.MAX_ROWS + 1)
    )
    [error] = import_errors(app, many)
    assert error["row"] == 1 and "at most 5000" in error["message"]
    huge = HEADER + "\n" + "x" * (roster_csv.MAX_BYTES + 1)
    [error] = import_errors(app, huge)
    assert error["message"].startswith("file too large")


def test_decode_accepts_utf8_with_bom_and_refuses_other_encodings() -> None:
    assert roster_csv.decode("\ufeffalias\nZoë\n".encode()) == "alias\nZoë\n"
    with pytest.raises(CsvImportFailed) as failed:
        roster_csv.decode("alias\nZoë\n".encode("latin-1"))
    assert failed.value.row_errors[0]["row"] == 2


def test_roles(app: Flask, world: World) -> None:
    coordinator = _principal(app, "coordinator")
    assert run_export(app, principal=coordinator).startswith("alias,")
    with pytest.raises(Forbidden):
        run_import(app, GOOD, principal=coordinator)
    assert run_import(app, GOOD, principal=_principal(app, "admin")).created == 3
    with pytest.raises(Forbidden):
        run_export(app, principal=_principal(app, "service"))


def test_cli_import_prints_summary(app: Flask, world: World, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    runner = app.test_cli_runner()
    dry = runner.invoke(main, ["supporters", "import", str(path), "--program", "acme", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.stdout == "dry run, nothing stored: 3 created, 0 updated, 0 unchanged\n"
    assert snapshot(app) == {}
    result = runner.invoke(main, ["supporters", "import", str(path), "--program", "acme"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "3 created, 0 updated, 0 unchanged\n"
    assert len(snapshot(app)) == 3


def test_cli_import_errors_exit_1_and_store_nothing(
    app: Flask, world: World, tmp_path: Path
) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(
        f"{HEADER}\nFox,,Europe/London,en,stress,,,,,,,\nOwl,,Mars/Base,en,stress,,,,,,,\n",
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(
        main, ["supporters", "import", str(path), "--program", "acme"]
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("row 3, time_zone: unknown time zone 'Mars/Base'")
    assert lines[1] == "peerline: 1 row error(s); nothing was imported"
    assert snapshot(app) == {}


def test_cli_import_unknown_program(app: Flask, world: World, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(GOOD, encoding="utf-8")
    result = app.test_cli_runner().invoke(
        main, ["supporters", "import", str(path), "--program", "nope"]
    )
    assert result.exit_code == 1
    assert "no program 'nope'" in result.stderr


def test_cli_export_to_file_and_stdout(app: Flask, world: World, tmp_path: Path) -> None:
    run_import(app, GOOD)
    runner = app.test_cli_runner()
    out = tmp_path / "export.csv"
    result = runner.invoke(
        main, ["supporters", "export", "--program", "acme", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes().decode("utf-8") == run_export(app)
    assert [r["alias"] for r in rows_of(out.read_text(encoding="utf-8"))] == [
        "Calm Heron",
        "Quiet Fox",
        "River Otter",
    ]
    printed = runner.invoke(main, ["supporters", "export", "--program", "acme"])
    assert printed.exit_code == 0
    assert printed.stdout_bytes.decode() == run_export(app)  # .stdout folds CRLF
    again = runner.invoke(main, ["supporters", "import", str(out), "--program", "acme"])
    assert again.stdout == "0 created, 0 updated, 3 unchanged\n"
