"""Programs: create and configure a tenant, and show its public intake information."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Uuid, bindparam, select
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import Program
from core.schemas.programs import (
    CrisisResourceOut,
    IntakeOut,
    Policy,
    ProgramIn,
    ProgramOut,
    ProgramPatch,
)
from core.services import audit
from core.services.access import Ctx, require

DEFAULT_CRISIS_RESOURCES: list[dict[str, Any]] = [
    {
        "locale": "en-US",
        "name": "988 Suicide & Crisis Lifeline",
        "contact": "Call or text 988",
        "description": "Free, confidential, 24/7 in the United States.",
        "url": "https://988lifeline.org/",
    },
    {
        "locale": "en-GB",
        "name": "Samaritans",
        "contact": "Call 116 123",
        "description": "Free, 24/7 in the UK and Ireland.",
        "url": "https://www.samaritans.org/",
    },
    {
        "locale": "en",
        "name": "Find a Helpline",
        "contact": "findahelpline.com",
        "description": "Free crisis lines in your country.",
        "url": "https://findahelpline.com/",
    },
    {
        "locale": "en",
        "name": "Emergency services",
        "contact": "Your local emergency number",
        "description": "If you or someone else is in immediate danger.",
    },
]
POLICY_FIELDS = tuple(Policy.model_fields)


def get_program(ctx: Ctx, slug: str) -> Program:
    """A program by slug; other programs' callers are told it does not exist."""
    program = ctx.session.scalar(select(Program).where(Program.slug == slug))
    if program is None:
        raise NotFound(f"no program {slug!r}", field="program")
    if ctx.principal.program_id is not None and ctx.principal.program_id != program.id:
        raise NotFound(f"no program {slug!r}", field="program")
    return program


def list_programs(ctx: Ctx) -> list[Program]:
    if ctx.principal.role not in ("admin", "coordinator", "service", "system"):
        raise Forbidden(f"the {ctx.principal.role} role may not list programs")
    if ctx.principal.program_id is None:
        return list(ctx.session.scalars(_ALL_PROGRAMS))
    return list(ctx.session.scalars(_ONE_PROGRAM, {"program_id": ctx.principal.program_id}))


# built once: a Slack /peer lists its workspace's program before every form it opens
_ALL_PROGRAMS = select(Program).order_by(Program.slug)
_ONE_PROGRAM = _ALL_PROGRAMS.where(Program.id == bindparam("program_id", type_=Uuid))


def create_program(ctx: Ctx, data: ProgramIn) -> Program:
    if not ctx.principal.deployment_wide or ctx.principal.role == "service":
        raise Forbidden("only a deployment admin token (no --program) may create programs")
    values = data.model_dump(mode="json", exclude={"policy"})
    values.update(data.policy.model_dump(mode="json"))
    if not values["crisis_resources"]:
        values["crisis_resources"] = DEFAULT_CRISIS_RESOURCES
    program = Program(created_at=ctx.now, **values)
    ctx.session.add(program)
    try:
        ctx.session.flush()
    except IntegrityError:
        ctx.session.rollback()
        raise Conflict(f"a program with slug {data.slug!r} exists", field="slug") from None
    audit.record(ctx, program.id, "program.created", "program", program.id)
    ctx.session.commit()
    return program


NULLABLE = frozenset({"notify_email"})
"""Settings a patch may clear with null; every other one always has a value."""


def update_program(ctx: Ctx, slug: str, patch: ProgramPatch) -> Program:
    program = get_program(ctx, slug)
    require(ctx.principal, program.id, "admin")
    changes = patch.model_dump(mode="json", exclude_unset=True, exclude={"policy"})
    if patch.policy is not None:
        changes.update(patch.policy.model_dump(mode="json", exclude_unset=True))
    for name, value in changes.items():
        if value is None and name not in NULLABLE:
            raise ValidationFailed(f"{name}: may not be null", field=name)
    for name, value in changes.items():
        setattr(program, name, value)
    audit.record(ctx, program.id, "program.updated", "program", program.id, fields=sorted(changes))
    ctx.session.commit()
    return program


def sole_workplace(ctx: Ctx) -> str | None:
    """The slug of the only workplace program, if there is exactly one (a chat app's default)."""
    workplaces = [p.slug for p in list_programs(ctx) if p.kind == "workplace"]
    return workplaces[0] if len(workplaces) == 1 else None


def program_out(program: Program) -> ProgramOut:
    policy = Policy.model_validate({f: getattr(program, f) for f in POLICY_FIELDS}, strict=False)
    return ProgramOut(
        id=program.id,
        slug=program.slug,
        name=program.name,
        kind=program.kind,
        time_zone=program.time_zone,
        locale=program.locale,
        policy=policy,
        topics=program.topics,
        languages=program.languages,
        modes=program.modes,
        crisis_resources=[CrisisResourceOut(**r) for r in program.crisis_resources],
        crisis_phrases=program.crisis_phrases,
    )


def crisis_resources_for(program: Program, locale: str | None = None) -> list[CrisisResourceOut]:
    """The program's resources that fit a locale (most specific first), never an empty list."""
    wanted = (locale or program.locale).lower()
    resources = [CrisisResourceOut(**r) for r in program.crisis_resources]
    fitting = [r for r in resources if wanted.startswith(r.locale.lower().split("-")[0])]
    fitting.sort(key=lambda r: 0 if wanted.startswith(r.locale.lower()) else 1)
    chosen = fitting or resources
    return chosen or [CrisisResourceOut(**r) for r in DEFAULT_CRISIS_RESOURCES]


def intake(ctx: Ctx, slug: str, locale: str | None = None) -> IntakeOut:
    return intake_of(get_program(ctx, slug), locale)


def intake_of(program: Program, locale: str | None = None) -> IntakeOut:
    """What a request form offers, from a program the caller has read already."""
    return IntakeOut(
        slug=program.slug,
        name=program.name,
        locale=program.locale,
        time_zone=program.time_zone,
        topics=program.topics,
        languages=program.languages,
        modes=program.modes,
        session_minutes=program.session_minutes,
        crisis_resources=crisis_resources_for(program, locale),
    )
