"""The supporter roster: add, edit, pause, offboard, and who is matchable and why."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Uuid, bindparam, delete, select
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, NotFound, ValidationFailed
from core.models import Program, Supporter, SupporterContact, TrainingRecord
from core.schemas.supporters import (
    Contact,
    SupporterIn,
    SupporterOut,
    SupporterPatch,
    SupporterQuery,
    TrainingIn,
    TrainingOut,
)
from core.services import audit
from core.services.access import STAFF, Ctx, require, require_self_or


class TrainingLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def completed_on(self) -> date: ...
    @property
    def expires_on(self) -> date | None: ...


class Trained(Protocol):
    """A supporter, or a search's lighter view of one: what training_state reads."""

    @property
    def trainings(self) -> Sequence[TrainingLike]: ...


@dataclass(frozen=True)
class TrainingState:
    current: bool
    reasons: tuple[str, ...]
    trained_until: date | None  # the first day the supporter is no longer trained


def training_state(supporter: Trained, required: list[str], today: date) -> TrainingState:
    """Current on every required training today? Lapses the day a record expires."""
    reasons: list[str] = []
    until: date | None = None
    for name in required:
        valid = [
            t
            for t in supporter.trainings
            if t.name.casefold() == name.casefold()
            and t.completed_on <= today
            and (t.expires_on is None or t.expires_on > today)
        ]
        if not valid:
            lapsed = any(t.name.casefold() == name.casefold() for t in supporter.trainings)
            reasons.append(f"training {'lapsed' if lapsed else 'missing'}: {name}")
            continue
        expiries = [t.expires_on for t in valid]
        latest = None if None in expiries else max(e for e in expiries if e is not None)
        if latest is not None and (until is None or latest < until):
            until = latest
    return TrainingState(not reasons, tuple(reasons), until)


def unmatchable_reasons(supporter: Supporter, program: Program, today: date) -> list[str]:
    reasons = [] if supporter.status == "active" else [supporter.status]
    return reasons + list(training_state(supporter, program.required_trainings, today).reasons)


def supporter_out(supporter: Supporter, program: Program, today: date) -> SupporterOut:
    state = training_state(supporter, program.required_trainings, today)
    reasons = unmatchable_reasons(supporter, program, today)
    return SupporterOut(
        id=supporter.id,
        alias=supporter.alias,
        external_ref=supporter.external_ref,
        time_zone=supporter.time_zone,
        languages=supporter.languages,
        topics=supporter.topics,
        modes=supporter.modes,
        status=supporter.status,
        weekly_cap=supporter.weekly_cap,
        concurrent_cap=supporter.concurrent_cap,
        contacts=[Contact(platform=c.platform, address=c.address) for c in supporter.contacts],
        trainings=[TrainingOut.model_validate(t) for t in supporter.trainings],
        matchable=not reasons,
        unmatchable_reasons=reasons,
        trained_until=state.trained_until,
        paused_until=supporter.paused_until,
    )


def get_supporter(ctx: Ctx, supporter_id: uuid.UUID, *roles: str) -> tuple[Supporter, Program]:
    """A supporter the caller may see: staff and service of its program, or itself."""
    supporter = ctx.session.get(Supporter, supporter_id)
    if supporter is None:
        raise NotFound("no such supporter", field="supporter_id")
    require_self_or(
        ctx.principal, supporter.program_id, supporter.id, *(roles or (*STAFF, "service"))
    )
    program = ctx.session.get_one(Program, supporter.program_id)
    return supporter, program


def list_supporters(ctx: Ctx, program: Program, query: SupporterQuery) -> list[Supporter]:
    require(ctx.principal, program.id, "admin", "coordinator", "service")
    statement = select(Supporter).where(Supporter.program_id == program.id)
    if query.status:
        statement = statement.where(Supporter.status == query.status)
    found = ctx.session.scalars(statement.order_by(Supporter.alias)).all()
    return [
        s
        for s in found
        if (not query.topic or query.topic in s.topics)
        and (not query.language or query.language in s.languages)
    ]


def add_supporter(ctx: Ctx, program: Program, data: SupporterIn) -> Supporter:
    require(ctx.principal, program.id, "admin")
    supporter = build_supporter(ctx, program, data)
    ctx.session.add(supporter)
    _flush_unique(ctx)
    audit.record(ctx, program.id, "supporter.added", "supporter", supporter.id)
    ctx.session.commit()
    return supporter


def build_supporter(ctx: Ctx, program: Program, data: SupporterIn) -> Supporter:
    _check_offered(program, data.topics, data.languages, data.modes)
    values = data.model_dump(exclude={"contacts"})
    supporter = Supporter(
        id=uuid.uuid4(), program_id=program.id, created_at=ctx.now, status="active", **values
    )
    supporter.contacts = [
        SupporterContact(program_id=program.id, **c.model_dump()) for c in data.contacts
    ]
    return supporter


def update_supporter(ctx: Ctx, supporter_id: uuid.UUID, patch: SupporterPatch) -> Supporter:
    supporter, program = get_supporter(ctx, supporter_id, "admin")
    changes = patch.model_dump(exclude_unset=True, exclude={"contacts"})
    for name in REQUIRED_FIELDS:
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name}: may not be null", field=name)
    _check_offered(program, changes.get("topics"), changes.get("languages"), changes.get("modes"))
    for name, value in changes.items():
        setattr(supporter, name, value)
    if patch.contacts is not None:
        if supporter.status == "offboarded":
            raise Conflict("an offboarded supporter keeps no contact data", field="contacts")
        supporter.contacts = []
        _flush_unique(ctx)  # delete the old rows before inserting a kept address again
        supporter.contacts = [
            SupporterContact(program_id=program.id, **c.model_dump()) for c in patch.contacts
        ]
    _flush_unique(ctx)
    audit.record(
        ctx,
        program.id,
        "supporter.updated",
        "supporter",
        supporter.id,
        fields=sorted(patch.model_fields_set),
    )
    ctx.session.commit()
    return supporter


def set_status(
    ctx: Ctx, supporter_id: uuid.UUID, status: str, until: date | None = None
) -> Supporter:
    """Pause (optionally until a date), resume or offboard; takes effect at once."""
    from core.services import matching  # matching reads the roster; import late

    supporter, program = get_supporter(ctx, supporter_id, "admin", "coordinator")
    if until is not None:
        today = ctx.now.astimezone(ZoneInfo(program.time_zone)).date()
        if status != "paused" or until <= today:
            raise ValidationFailed("until: a pause ends on a later date than today", field="until")
    supporter.paused_until = until if status == "paused" else None
    if status == "offboarded":
        require(ctx.principal, program.id, "admin")
    if supporter.status == "offboarded":
        raise Conflict("this supporter was offboarded; add them again to bring them back")
    supporter.status = status
    supporter.status_changed_at = ctx.now
    if status != "active":
        matching.withdraw_offers_of(ctx, supporter)
    if status == "offboarded":
        supporter.contacts = []
        matching.cancel_future_bookings_of(ctx, supporter)
    audit.record(ctx, program.id, f"supporter.{_verb(status)}", "supporter", supporter.id)
    ctx.session.commit()
    return supporter


def _verb(status: str) -> str:
    return {"active": "resumed", "paused": "paused", "offboarded": "offboarded"}[status]


def add_training(ctx: Ctx, supporter_id: uuid.UUID, data: TrainingIn) -> TrainingRecord:
    supporter, program = get_supporter(ctx, supporter_id, "admin", "coordinator")
    record = TrainingRecord(supporter_id=supporter.id, created_at=ctx.now, **data.model_dump())
    supporter.trainings.append(record)
    audit.record(ctx, program.id, "training.recorded", "supporter", supporter.id, name=data.name)
    ctx.session.commit()
    return record


def delete_training(ctx: Ctx, supporter_id: uuid.UUID, training_id: uuid.UUID) -> None:
    supporter, program = get_supporter(ctx, supporter_id, "admin", "coordinator")
    removed = ctx.session.execute(
        delete(TrainingRecord).where(
            TrainingRecord.id == training_id, TrainingRecord.supporter_id == supporter.id
        )
    )
    if removed.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("no such training record", field="training_id")
    audit.record(ctx, program.id, "training.deleted", "supporter", supporter.id)
    ctx.session.commit()


def find_by_contact(
    ctx: Ctx, program_id: uuid.UUID, platform: str, address: str
) -> Supporter | None:
    """The supporter behind a Slack/Teams/e-mail address, for plugins."""
    require(ctx.principal, program_id, "service")
    return ctx.session.scalar(
        select(Supporter)
        .join(SupporterContact)
        .where(
            SupporterContact.program_id == program_id,
            SupporterContact.platform == platform,
            SupporterContact.address == address,
        )
    )


def _check_offered(
    program: Program, topics: list[str] | None, languages: list[str] | None, modes: list[str] | None
) -> None:
    for field, given, offered in (
        ("topics", topics, program.topics),
        ("languages", languages, program.languages),
        ("modes", modes, program.modes),
    ):
        unknown = sorted(set(given or ()) - set(offered))
        if unknown:
            raise ValidationFailed(
                f"{field}: {', '.join(unknown)} not offered by this program "
                f"(offered: {', '.join(offered)})",
                field=field,
            )


REQUIRED_FIELDS = ("alias", "time_zone", "languages", "topics", "modes")
UNIQUE_FIELDS = {  # constraint name (PostgreSQL) or column (SQLite) -> field
    "uq_supporters_program_alias": "alias",
    "supporters.alias": "alias",
    "uq_supporters_program_ref": "external_ref",
    "supporters.external_ref": "external_ref",
}


def _clashing_field(message: str) -> str:
    """Which field a unique violation is about, from the constraint's name, not the values."""
    first_line = message.splitlines()[0] if message else ""
    return next((f for key, f in UNIQUE_FIELDS.items() if key in first_line), "contacts")


def _flush_unique(ctx: Ctx) -> None:
    try:
        ctx.session.flush()
    except IntegrityError as exc:
        ctx.session.rollback()
        field = _clashing_field(str(exc.orig))
        raise Conflict(
            f"{field}: already used by another supporter in this program", field=field
        ) from None


def public_aliases(ctx: Ctx, program: Program) -> list[tuple[uuid.UUID, str]]:
    """Active supporters as requesters may see them (id, alias), e.g. for an avoid list."""
    require(ctx.principal, program.id, "service")
    rows = ctx.session.execute(_PUBLIC_ALIASES, {"program_id": program.id}).all()
    return [(row.id, row.alias) for row in rows]


_PUBLIC_ALIASES = (  # built once: every Slack or Teams request form reads it
    select(Supporter.id, Supporter.alias)
    .where(
        Supporter.program_id == bindparam("program_id", type_=Uuid),
        Supporter.status == "active",
    )
    .order_by(Supporter.alias)
)
