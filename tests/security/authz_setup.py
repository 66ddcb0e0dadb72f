"""Building the matrix's world: both programs, their people, the two requests, and sessions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.clock import FrozenClock
from core.plugins import discover
from core.runtime import runtime
from core.services import accounts, programs
from tests.conftest import START, make_app
from tests.helpers import EVERY_WEEKDAY, issue_token, make_world, system_ctx
from tests.security.authz_world import (
    CONSOLE_ACCOUNTS,
    EMAIL,
    METRICS_TOKEN,
    NOTES,
    OTHER_SUBJECT,
    PLUGIN_ENV,
    SUBJECT,
    UNASSIGNED_NOTE,
    UNASSIGNED_SUBJECT,
    World,
)


@contextmanager
def built_world(database_url: str, tmp_path: Path) -> Iterator[World]:
    """The matrix's world on `database_url`, with every plugin configured."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in PLUGIN_ENV.items():
            patch.setenv(name, value)
        for name in ("TEAMS_CONSOLE_CLIENT_ID", "TEAMS_CONSOLE_CLIENT_SECRET", "SLACK_BOT_TOKEN"):
            patch.delenv(name, raising=False)
        app = make_app(
            database_url,
            tmp_path,
            FrozenClock(START),
            plugins=discover(),
            metrics_token=METRICS_TOKEN,
            public_url="https://peerline.example.org",
            rate_limits_enabled=False,  # throttling has its own tests; here it would hide cells
        )
    try:
        world = World(app)
        _populate(world)
        yield world
    finally:
        runtime(app).engine.dispose()


def _populate(world: World) -> None:
    app = world.app
    acme = make_world(app, app.test_client(), policy={"weekly_cap": 100, "concurrent_cap": 20})
    ash = acme.add_supporter("Ash", weekly=EVERY_WEEKDAY, weekly_cap=100, concurrent_cap=20)
    birch = acme.add_supporter("Birch", weekly=EVERY_WEEKDAY, languages=["es"])
    globex = make_world(app, app.test_client(), slug="globex", name="Globex")
    theirs = globex.add_supporter("Gale", weekly=EVERY_WEEKDAY)
    made = world.made
    made.ash, made.birch, made.globex_supporter = ash["id"], birch["id"], theirs["id"]
    world.tokens.update(
        admin=acme.admin,
        service=acme.service,
        coordinator=issue_token(app, "coordinator", "acme"),
        supporter=acme.supporter_token("Ash"),
        other_admin=globex.admin,
        other_coordinator=issue_token(app, "coordinator", "globex"),
        other_supporter=issue_token(app, "supporter", "globex", uuid.UUID(theirs["id"])),
        other_service=globex.service,
        operator=issue_token(app, "admin", None),
    )
    _requests(world)
    _console_accounts(world)


def _requests(world: World) -> None:
    """The requester's booked request (with note, identity, e-mail) and another one in chat."""
    made = world.made
    slot = {"supporter_id": made.ash, "starts_at": world.free_slot()}
    identity = {"platform": "slack", "subject": SUBJECT}
    main = world.fresh_request(
        note=NOTES[0],
        urgency="scheduled",
        topic="general",
        mode="video",
        slot=slot,
        requester=identity,
        email=EMAIL,
        channel="slack",
    )
    assert main["booking"]["status"] == "confirmed", main
    other, offer = world.fresh_offer(
        note=NOTES[1], requester={"platform": "teams", "subject": OTHER_SUBJECT}, channel="teams"
    )
    world.api("POST", f"/api/v1/offers/{offer}/accept", world.tokens["supporter"])
    unassigned = world.fresh_request(  # offered to Birch, never Ash's business
        note=UNASSIGNED_NOTE,
        language="es",
        requester={"platform": "teams", "subject": UNASSIGNED_SUBJECT},
        channel="teams",
    )
    made.unassigned_request, made.unassigned_alias = unassigned["id"], unassigned["alias"]
    made.main_request, made.main_alias = main["id"], main["alias"]
    made.main_booking = main["booking"]["id"]
    made.other_request, made.other_alias, made.other_offer = other["id"], other["alias"], offer
    world.tokens.update(requester=main["token"], other_requester=other["token"])


def _console_accounts(world: World) -> None:
    """An account per console role, signed in (sessions made directly: no password hashing)."""
    ctx = system_ctx(world.app)
    with ctx.session:
        for role, (email, account_role, slug) in CONSOLE_ACCOUNTS.items():
            program = programs.get_program(ctx, slug).id if slug else None
            account = accounts.create(
                ctx,
                email=email,
                role=account_role,
                display_name=role.title(),
                program_id=program,
                supporter_id=_linked(world, role),
            )
            world.account_ids[role] = str(account.id)
        ctx.session.commit()
    for role in CONSOLE_ACCOUNTS:
        world.consoles[role] = world.signed_in(role)


def _linked(world: World, role: str) -> uuid.UUID | None:
    found = {"supporter": world.made.ash, "other_supporter": world.made.globex_supporter}
    return uuid.UUID(found[role]) if role in found else None


def secrets_of(world: World) -> dict[str, list[str]]:
    """What must never reach a body: by kind, so each role's allowance can be stated."""
    made = world.made
    tokens = [world.tokens["requester"], world.tokens["other_requester"]]
    return {
        "identity": [SUBJECT, OTHER_SUBJECT, UNASSIGNED_SUBJECT, EMAIL, *tokens],
        "note": list(NOTES),
        "request": [made.main_request, made.other_request, made.main_alias, made.other_alias],
        "unassigned": [UNASSIGNED_NOTE, made.unassigned_request, made.unassigned_alias],
    }
