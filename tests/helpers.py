"""Small builders for tests: a program with supporters, tokens and availability."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from core.notify import deliveries
from core.runtime import runtime
from core.schemas.programs import ProgramIn
from core.services import access, programs, tokens


def system_ctx(app: Flask) -> access.Ctx:
    current = runtime(app)
    return access.Ctx(
        session=current.session_factory(),
        principal=access.SYSTEM,
        now=current.clock.now(),
        cipher=current.cipher,
    )


def issue_token(
    app: Flask, role: str, program_slug: str | None, supporter_id: uuid.UUID | None = None
) -> str:
    ctx = system_ctx(app)
    with ctx.session:
        program = programs.get_program(ctx, program_slug) if program_slug else None
        _, secret = tokens.create(
            ctx, role=role, program=program, name=f"test {role}", supporter_id=supporter_id
        )
    return secret


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    """A program 'acme' with an admin token and helpers to add supporters over the API."""

    app: Flask
    client: FlaskClient
    slug: str = "acme"
    admin: str = ""
    service: str = ""
    supporters: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_supporter(
        self, alias: str, *, weekly: list[dict[str, str]] | None = None, **fields: Any
    ) -> dict[str, Any]:
        body = {
            "alias": alias,
            "time_zone": "Europe/London",
            "languages": ["en"],
            "topics": ["stress", "general"],
            "modes": ["text", "video"],
            **fields,
        }
        response = self.client.post(
            f"/api/v1/supporters?program={self.slug}", json=body, headers=auth(self.admin)
        )
        assert response.status_code == 201, response.json
        supporter = response.json
        if weekly is not None:
            put = self.client.put(
                f"/api/v1/supporters/{supporter['id']}/availability",
                json={"weekly": weekly},
                headers=auth(self.admin),
            )
            assert put.status_code == 200, put.json
        self.supporters[alias] = supporter
        return supporter

    def supporter_token(self, alias: str) -> str:
        return issue_token(
            self.app, "supporter", self.slug, uuid.UUID(self.supporters[alias]["id"])
        )


EVERY_WEEKDAY = [
    {"weekday": d, "start": "08:00", "end": "20:00"} for d in ("mon", "tue", "wed", "thu", "fri")
]


def make_world(app: Flask, client: FlaskClient, **program: Any) -> World:
    ctx = system_ctx(app)
    data = ProgramIn.model_validate(
        {
            "slug": "acme",
            "name": "Acme Corp",
            "kind": "workplace",
            "time_zone": "Europe/London",
            "topics": ["stress", "general", "grief"],
            "languages": ["en", "es"],
            "modes": ["text", "video"],
            **program,
        },
        strict=False,
    )
    with ctx.session:
        programs.create_program(ctx, data)
    world = World(app, client, slug=data.slug)
    world.admin = issue_token(app, "admin", data.slug)
    world.service = issue_token(app, "service", data.slug)
    return world


def request_body(**fields: Any) -> dict[str, Any]:
    """A talk-now request to 'acme' about stress, by text, in English; fields override."""
    return {
        "program": "acme",
        "topic": "stress",
        "urgency": "now",
        "mode": "text",
        "language": "en",
        **fields,
    }


def drain_until_quiet(app: Flask, rounds: int = 5) -> list[str]:
    """What workers do with everything due now, including what sending it decided."""
    current, done = runtime(app), []
    for _ in range(rounds):
        due = deliveries.due(current)
        if not due:
            break
        done += [deliveries.attempt(current, d).status for d in due]
    return done
