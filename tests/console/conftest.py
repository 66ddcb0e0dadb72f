"""A program with console accounts for each role, and signed-in test clients."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.clock import FrozenClock
from core.runtime import runtime
from core.services import accounts, programs
from tests import browser as chromium
from tests.conftest import make_app
from tests.helpers import EVERY_WEEKDAY, World, make_world, system_ctx
from tests.live_server import live_server

PASSWORD = "correct horse battery staple"
EMAILS = {
    "admin": "admin@acme.test",
    "coordinator": "coordinator@acme.test",
    "supporter": "ash@acme.test",
    "operator": "operator@peerline.test",
}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Console:
    """The app, its program `acme` (supporters Ash and Birch) and an account per role."""

    app: Flask
    world: World
    clock: FrozenClock
    clients: dict[str, FlaskClient] = field(default_factory=dict)

    def client(self, role: str | None = None) -> FlaskClient:
        """A test client signed in as `role` (None: signed out)."""
        if role is None:
            return self.app.test_client()
        if role not in self.clients:
            client = self.app.test_client()
            signed = self.post(client, "/console/sign-in", email=EMAILS[role], password=PASSWORD)
            assert signed.status_code == 302, signed.get_data(as_text=True)
            self.clients[role] = client
        return self.clients[role]

    def csrf(self, client: FlaskClient, path: str = "/console/sign-in") -> str:
        page = client.get(path).get_data(as_text=True)
        found = _CSRF.search(page)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def post(self, client: FlaskClient, path: str, form_page: str | None = None, **data: Any):
        """POST a form as a browser would: with the CSRF token of the page that shows it."""
        token = self.csrf(client, form_page or path)
        return client.post(path, data={"csrf_token": token, **data})

    def base(self) -> str:
        return f"/console/p/{self.world.slug}"


def other_program_client(console: Console, role: str = "admin") -> FlaskClient:
    """A client signed in as `role` of a second program, `globex` (made once)."""
    check = system_ctx(console.app)
    with check.session:
        exists = any(p.slug == "globex" for p in programs.list_programs(check))
    if not exists:
        make_world(console.app, console.app.test_client(), slug="globex", name="Globex")
    ctx = system_ctx(console.app)
    with ctx.session:
        email = f"{role}@globex.test"
        accounts.create(
            ctx,
            email=email,
            role=role,
            display_name=f"Globex {role}",
            program_id=programs.get_program(ctx, "globex").id,
            password=PASSWORD,
        )
        ctx.session.commit()
    client = console.app.test_client()
    signed = console.post(client, "/console/sign-in", email=email, password=PASSWORD)
    assert signed.status_code == 302, signed.get_data(as_text=True)
    return client


def add_accounts(app: Flask, world: World) -> None:
    ctx = system_ctx(app)
    with ctx.session:
        program = programs.get_program(ctx, world.slug)
        ash = uuid.UUID(world.supporters["Ash"]["id"])
        for role, email in EMAILS.items():
            accounts.create(
                ctx,
                email=email,
                role="admin" if role == "operator" else role,
                display_name=role.title(),
                program_id=None if role == "operator" else program.id,
                supporter_id=ash if role == "supporter" else None,
                password=PASSWORD,
            )
        ctx.session.commit()


@pytest.fixture
def console(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Console]:
    app = make_app(database_url, tmp_path, clock)
    world = make_world(app, app.test_client())
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    world.add_supporter("Birch", weekly=EVERY_WEEKDAY, languages=["es"])
    add_accounts(app, world)
    yield Console(app, world, clock)
    runtime(app).engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not chromium.CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium); never downloaded")
    yield from chromium.launch()


@pytest.fixture
def live(console: Console) -> Iterator[str]:
    """The console's app behind a real server on loopback; yields the base URL."""
    with live_server(console.app) as base:
        yield base


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    return chromium.artifacts("console", request.node.name)
