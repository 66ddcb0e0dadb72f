"""A program-wide slot search: the same answer as the schema would write, in one set of reads.

The search writes its JSON itself (bench/slots.py: thousands of slots in a string join, not
thousands of models). These tests hold it to what the documented SlotList would write, for
every viewer zone, across a clock change, with bookings, overrides and shared start times.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import TypeAdapter
from sqlalchemy import event

from core.runtime import runtime
from core.schemas.slots import SlotList
from core.schemas.supporters import SupporterPublic
from core.services import programs, slots
from tests.helpers import auth, make_world, request_body, system_ctx

TWO_WEEKS = "from=2026-03-04T00:00:00Z&to=2026-03-18T00:00:00Z"  # the US moves its clocks on 8th
TWO_WEEKS_AT = (datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 3, 18, tzinfo=UTC))
ZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Europe/London", "Australia/Lord_Howe")


def world_of(app: Flask, client: FlaskClient, supporters: int):
    """Supporters in several zones, some sharing hours (ties broken by alias), one booked."""
    world = make_world(app, client)
    zones = ("Europe/London", "America/New_York", "Asia/Kolkata")
    for n in range(supporters):
        hours = [{"weekday": d, "start": "09:00", "end": "12:30"} for d in ("mon", "wed", "fri")]
        hours.append({"weekday": "sat", "start": "22:00", "end": "24:00"})  # runs into Sunday
        world.add_supporter(f"{'ZYX'[n % 3]}-{n:02d}", weekly=hours, time_zone=zones[n % 3])
    first = next(iter(world.supporters.values()))
    override = {"date": "2026-03-06", "available": False}
    extra = {"date": "2026-03-10", "available": True, "start": "18:00", "end": "20:00"}
    for body in (override, extra):
        added = client.post(
            f"/api/v1/supporters/{first['id']}/overrides", json=body, headers=auth(world.admin)
        )
        assert added.status_code == 201, added.json
    return world


def written_by_the_schema(app: Flask, zone: str) -> bytes:
    """What the API wrote before: SlotList models from slots.search, through jsonify."""
    ctx = system_ctx(app)
    with app.test_request_context(), ctx.session:
        program = programs.get_program(ctx, "acme")
        start, end = slots.window(ctx, program, *TWO_WEEKS_AT)
        found = slots.search(ctx, program, slots.SlotFilter(start=start, end=end))
        document = SlotList(
            time_zone=zone,
            slots=[
                {
                    "starts_at": f.interval.start.astimezone(ZoneInfo(zone)),
                    "ends_at": f.interval.end.astimezone(ZoneInfo(zone)),
                    "supporter": SupporterPublic.model_validate(f.supporter),
                }
                for f in found
            ],
        )
        written = app.json.response(TypeAdapter(SlotList).dump_python(document, mode="json"))
        return bytes(written.data)


@pytest.mark.parametrize("zone", ZONES)
def test_the_search_writes_what_the_documented_schema_would(app, client, zone):
    world = world_of(app, client, supporters=7)
    asked = client.post("/api/v1/requests", json=request_body(urgency="scheduled", mode="video"))
    found = client.get(f"/api/v1/slots?program=acme&{TWO_WEEKS}&tz={zone}").json["slots"]
    booked = client.post(
        "/api/v1/bookings",
        headers=auth(asked.json["token"]),
        json={
            "request_id": asked.json["id"],
            "supporter_id": found[3]["supporter"]["id"],
            "starts_at": found[3]["starts_at"],
        },
    )
    assert booked.status_code == 201, booked.json
    answer = client.get(f"/api/v1/slots?program=acme&{TWO_WEEKS}&tz={zone}")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.data == written_by_the_schema(app, zone), "byte for byte"
    document = SlotList.model_validate_json(answer.data)
    assert len(document.slots) > 100 and found[3] not in answer.json["slots"]
    aliases = {s.supporter.alias for s in document.slots}
    assert len(aliases) == len(world.supporters)
    ordered = [(s.starts_at, s.supporter.alias) for s in document.slots]
    assert ordered == sorted(ordered), "by start, then alias"


def test_a_search_reads_the_same_few_statements_for_3_or_30_supporters(app, client):
    world = world_of(app, client, supporters=3)
    statements: list[str] = []
    engine = runtime(app).engine

    def searched() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            assert client.get(f"/api/v1/slots?program=acme&{TWO_WEEKS}").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(statements)

    def record(*args) -> None:
        statements.append(args[2])

    few = searched()
    for n in range(27):
        weekly = [{"weekday": "tue", "start": "09:00", "end": "11:00"}]
        world.add_supporter(f"More-{n:02d}", weekly=weekly, time_zone="Europe/Berlin")
    assert searched() == few <= 10, statements


def test_the_supporters_filtered_out_leave_no_slot_and_no_trace(app, client):
    world = world_of(app, client, supporters=4)
    only_es = client.get(f"/api/v1/slots?program=acme&{TWO_WEEKS}&language=es").json["slots"]
    assert only_es == []
    first = next(iter(world.supporters.values()))
    one = client.get(f"/api/v1/slots?program=acme&{TWO_WEEKS}&supporter={first['id']}")
    assert {s["supporter"]["id"] for s in one.json["slots"]} == {first["id"]}
