"""`peerline demo`: a seeded program on SQLite, so the product can be tried at once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from core.runtime import runtime
from core.schemas.programs import ProgramIn
from core.schemas.supporters import AvailabilityIn, SupporterIn, TrainingIn
from core.services import access, accounts, availability, programs, roster, tokens

TRAININGS = ["Peer support foundations", "Safeguarding"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
ALL_DAYS = (*WEEKDAYS, "sat", "sun")

PROGRAMS: list[dict[str, Any]] = [
    {
        "slug": "acme",
        "name": "Acme Corp Peer Support",
        "kind": "workplace",
        "time_zone": "Europe/London",
        "locale": "en-GB",
        "topics": ["stress", "burnout", "grief", "family", "general"],
        "languages": ["en", "es"],
        "modes": ["text", "video", "in_person"],
        "policy": {"required_trainings": TRAININGS, "min_notice_minutes": 60},
    },
    {
        "slug": "northfield",
        "name": "Northfield University Peer Listeners",
        "kind": "school",
        "time_zone": "America/New_York",
        "locale": "en-US",
        "topics": ["exams", "loneliness", "homesickness", "general"],
        "languages": ["en", "es"],
        "modes": ["text", "video"],
        "policy": {"required_trainings": TRAININGS},
    },
]
# alias, time zone, languages, topics, days, hours, note
SUPPORTERS: dict[
    str, list[tuple[str, str, list[str], list[str], tuple[str, ...], tuple[str, str], str]]
] = {
    "acme": [
        (
            "Maple",
            "Europe/London",
            ["en"],
            ["stress", "burnout", "general"],
            ALL_DAYS,
            ("00:00", "24:00"),
            "",
        ),
        (
            "Juniper",
            "Europe/London",
            ["en", "es"],
            ["grief", "family", "general"],
            ALL_DAYS,
            ("00:00", "24:00"),
            "",
        ),
        (
            "Cedar",
            "Europe/Madrid",
            ["es", "en"],
            ["stress", "family"],
            WEEKDAYS,
            ("09:00", "17:30"),
            "",
        ),
        (
            "Willow",
            "America/New_York",
            ["en"],
            ["burnout", "general"],
            WEEKDAYS,
            ("08:00", "16:00"),
            "",
        ),
        (
            "Aspen",
            "Europe/London",
            ["en"],
            ["grief", "stress"],
            WEEKDAYS,
            ("12:00", "20:00"),
            "paused",
        ),
        ("Rowan", "Europe/London", ["en"], ["general"], WEEKDAYS, ("09:00", "17:00"), "lapsed"),
    ],
    "northfield": [
        (
            "Harbor",
            "America/New_York",
            ["en"],
            ["exams", "loneliness", "general"],
            ALL_DAYS,
            ("00:00", "24:00"),
            "",
        ),
        (
            "Lantern",
            "America/Chicago",
            ["en", "es"],
            ["homesickness", "general"],
            WEEKDAYS,
            ("10:00", "18:00"),
            "",
        ),
        (
            "Compass",
            "America/Los_Angeles",
            ["en"],
            ["exams", "general"],
            WEEKDAYS,
            ("09:00", "21:00"),
            "",
        ),
    ],
}


@dataclass
class DemoTokens:
    deployment_admin: str
    admin: str
    coordinator: str
    supporter: str
    service: str
    console_password: str = ""
    """One password, made now, for the demo's console accounts (CONSOLE_ACCOUNTS)."""


CONSOLE_ACCOUNTS = (
    ("admin@acme.example", "admin", "Acme admin"),
    ("coordinator@acme.example", "coordinator", "Acme coordinator"),
    ("maple@acme.example", "supporter", "Maple"),
)


def seed(app: Flask) -> DemoTokens:
    """Create the demo programs, supporters, hours and trainings; return fresh tokens."""
    current = runtime(app)
    ctx = access.Ctx(
        session=current.session_factory(),
        principal=access.SYSTEM,
        now=current.clock.now(),
        cipher=current.cipher,
    )
    today = ctx.now.date()
    with ctx.session:
        first_supporter = None
        for spec in PROGRAMS:
            program = programs.create_program(ctx, ProgramIn.model_validate(spec, strict=False))
            for alias, zone, languages, topics, days, (start, end), state in SUPPORTERS[
                program.slug
            ]:
                supporter = roster.add_supporter(
                    ctx,
                    program,
                    SupporterIn.model_validate(
                        {
                            "alias": alias,
                            "time_zone": zone,
                            "languages": languages,
                            "topics": topics,
                            "modes": program.modes,
                            "contacts": [
                                {
                                    "platform": "email",
                                    "address": f"{alias.lower()}@{program.slug}.example",
                                }
                            ],
                        },
                        strict=False,
                    ),
                )
                first_supporter = first_supporter or supporter
                availability.set_weekly(
                    ctx,
                    supporter.id,
                    AvailabilityIn.model_validate(
                        {"weekly": [{"weekday": d, "start": start, "end": end} for d in days]}
                    ),
                )
                for name in TRAININGS:
                    expires = (
                        today - timedelta(days=3)
                        if state == "lapsed" and name == "Safeguarding"
                        else today + timedelta(days=700)
                    )
                    roster.add_training(
                        ctx,
                        supporter.id,
                        TrainingIn(
                            name=name,
                            completed_on=expires - timedelta(days=730),
                            expires_on=expires,
                        ),
                    )
                if state == "paused":
                    roster.set_status(ctx, supporter.id, "paused")
        acme = programs.get_program(ctx, "acme")
        assert first_supporter is not None
        password = secrets.token_urlsafe(12)
        for email, role, name in CONSOLE_ACCOUNTS:
            accounts.create(
                ctx,
                email=email,
                role=role,
                display_name=name,
                program_id=acme.id,
                supporter_id=first_supporter.id if role == "supporter" else None,
                password=password,
            )
        ctx.session.commit()
        return DemoTokens(
            deployment_admin=tokens.create(ctx, role="admin", program=None, name="demo operator")[
                1
            ],
            admin=tokens.create(ctx, role="admin", program=acme, name="demo admin")[1],
            coordinator=tokens.create(
                ctx, role="coordinator", program=acme, name="demo coordinator"
            )[1],
            supporter=tokens.create(
                ctx,
                role="supporter",
                program=acme,
                name="demo supporter Maple",
                supporter_id=first_supporter.id,
            )[1],
            service=tokens.create(ctx, role="service", program=acme, name="demo integration")[1],
            console_password=password,
        )


def banner(base: str, demo: DemoTokens, mail_folder: Path | None = None) -> str:
    mail = (
        f"\nE-mails (with calendar invites) are written to {mail_folder}/ as .eml files;\n"
        "open them in any mail program. Set PEERLINE_SMTP_URL to send them instead.\n"
        if mail_folder is not None
        else ""
    )
    return f"""
PeerLine demo is running on {base}  (SQLite, demo data; stop with Ctrl+C)

  Console           {base}/console/
    sign in as admin@acme.example, coordinator@acme.example or maple@acme.example
    (a supporter), each with the password {demo.console_password}

  API docs          {base}/api/v1/docs
  OpenAPI document  {base}/api/v1/openapi.json
  Intake (public)   {base}/api/v1/programs/acme/intake
  Free slots        {base}/api/v1/slots?program=acme&topic=stress
  Health            {base}/healthz   {base}/readyz

Sign in to the API with 'Authorization: Bearer <token>':
  admin of acme         {demo.admin}
  coordinator of acme   {demo.coordinator}
  supporter 'Maple'     {demo.supporter}
  service (integration) {demo.service}
  deployment admin      {demo.deployment_admin}

Try it:
  curl -s {base}/api/v1/supporters?program=acme -H 'Authorization: Bearer {demo.admin}'
  curl -s -X POST {base}/api/v1/requests -H 'Content-Type: application/json' \\
       -d '{{"program":"acme","topic":"stress","urgency":"now","mode":"text","language":"en"}}'
  curl -s {base}/api/v1/offers?program=acme -H 'Authorization: Bearer {demo.supporter}'
{mail}"""
