"""Applying a checked roster file: match rows to supporters, then store all or nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.errors import CsvImportFailed
from core.models import Program, Supporter, SupporterContact
from core.schemas.supporters import SupporterIn
from core.services import audit, matching, roster
from core.services.access import Ctx, require
from core.services.roster_csv import PLATFORMS, RowError, RowResult, parse


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    unchanged: int


@dataclass
class _Plan:
    new: list[RowResult] = field(default_factory=list)
    changed: list[tuple[Supporter, RowResult]] = field(default_factory=list)
    unchanged: int = 0


def import_csv(ctx: Ctx, program: Program, text: str, *, dry_run: bool = False) -> ImportSummary:
    """Create or update the file's supporters in one transaction, or store nothing at all."""
    require(ctx.principal, program.id, "admin")
    program_id = program.id
    results = parse(text, program)
    rows = [r for r in results if r.data is not None and not r.errors]
    plan = _plan(ctx, program_id, rows)  # rows that pass alone are checked against the roster
    _raise_errors(results)
    try:
        paused = _apply(ctx, program, plan)
    except IntegrityError as exc:
        ctx.session.rollback()
        raise CsvImportFailed([_clash(exc, rows)]) from None
    summary = ImportSummary(len(plan.new), len(plan.changed), plan.unchanged)
    if dry_run:
        ctx.session.rollback()
        return summary
    for supporter in paused:
        matching.withdraw_offers_of(ctx, supporter)
    audit.record(
        ctx,
        program_id,
        "supporters.imported",
        "program",
        program_id,
        created=summary.created,
        updated=summary.updated,
        unchanged=summary.unchanged,
    )
    ctx.session.commit()
    return summary


def _raise_errors(results: Iterable[RowResult]) -> None:
    errors = sorted((e for r in results for e in r.errors), key=lambda e: int(e["row"]))
    if errors:
        raise CsvImportFailed(errors)


def _plan(ctx: Ctx, program_id: uuid.UUID, rows: list[RowResult]) -> _Plan:
    """Match each row to a supporter, then check the outcome against everyone not in the file."""
    existing = ctx.session.scalars(
        select(Supporter).where(Supporter.program_id == program_id)
    ).all()
    by_ref = {s.external_ref: s for s in existing if s.external_ref}
    by_alias = {s.alias: s for s in existing}
    targets: dict[int, tuple[Supporter | None, str]] = {}
    claimed: dict[uuid.UUID, RowResult] = {}
    for row in rows:
        target, column = _match(row, by_ref, by_alias)
        if target is not None and target.id in claimed:
            row.fail(column, f"matches the same supporter as row {claimed[target.id].row}")
            continue
        if target is not None:
            claimed[target.id] = row
        targets[row.row] = target, column
    holders = {
        (c.platform, c.address): c.supporter_id
        for c in ctx.session.scalars(
            select(SupporterContact).where(SupporterContact.program_id == program_id)
        )
    }
    plan = _Plan()
    for row in (r for r in rows if r.row in targets):
        target, column = targets[row.row]
        _check_taken(row, target, by_alias, holders, claimed)
        _check_offboarding(row, target, column)
        if row.errors:
            continue
        if target is None:
            plan.new.append(row)
        elif _same(target, row):
            plan.unchanged += 1
        else:
            plan.changed.append((target, row))
    return plan


def _match(
    row: RowResult, by_ref: dict[str, Supporter], by_alias: dict[str, Supporter]
) -> tuple[Supporter | None, str]:
    """By external_ref when the row has one, else by alias (adopting the ref if none is set)."""
    assert row.data is not None
    ref = row.data.external_ref
    if ref is not None and ref in by_ref:
        return by_ref[ref], "external_ref"
    owner = by_alias.get(row.data.alias)
    if owner is not None and (ref is None or owner.external_ref is None):
        return owner, "alias"
    return None, "alias"


def _check_taken(
    row: RowResult,
    target: Supporter | None,
    by_alias: dict[str, Supporter],
    holders: dict[tuple[str, str], uuid.UUID],
    claimed: dict[uuid.UUID, RowResult],
) -> None:
    """An alias or address may move only if its holder is in the file and lets it go."""
    assert row.data is not None
    owner = by_alias.get(row.data.alias)
    if owner is not None and owner is not target:
        mover = claimed.get(owner.id)
        if mover is None or mover.data is None or mover.data.alias == owner.alias:
            gone = (
                " (an offboarded supporter; aliases are not reused)"
                if owner.status == "offboarded"
                else ""
            )
            row.fail("alias", f"{row.data.alias!r} is already used by another supporter{gone}")
    for contact in row.data.contacts:
        holder = holders.get((contact.platform, contact.address))
        if holder is None or (target is not None and holder == target.id):
            continue
        mover = claimed.get(holder)
        if mover is None or mover.data is None or contact in mover.data.contacts:
            row.fail(contact.platform, f"{contact.address!r} is already used by another supporter")


def _check_offboarding(row: RowResult, target: Supporter | None, column: str) -> None:
    if target is not None and target.status == "offboarded":
        if row.status != "offboarded":
            row.fail(column, "matches an offboarded supporter; an import never brings one back")
        elif not _same(target, row):
            row.fail("status", "an offboarded supporter's record cannot be changed")
    elif row.status == "offboarded":
        row.fail(
            "status",
            "a file cannot offboard anyone or add someone offboarded; offboard "
            "supporters one by one in the roster",
        )


def _contact_keys(contacts: Iterable[Any]) -> list[tuple[str, str]]:
    return sorted((c.platform, c.address) for c in contacts if c.platform in PLATFORMS)


def _same(s: Supporter, row: RowResult) -> bool:
    d = row.data
    assert d is not None
    return (
        d.alias,
        d.external_ref or s.external_ref,
        d.time_zone,
        d.languages,
        d.topics,
        d.modes,
        d.weekly_cap,
        d.concurrent_cap,
        row.status,
        _contact_keys(d.contacts),
    ) == (
        s.alias,
        s.external_ref,
        s.time_zone,
        list(s.languages),
        list(s.topics),
        list(s.modes),
        s.weekly_cap,
        s.concurrent_cap,
        s.status,
        _contact_keys(s.contacts),
    )


def _apply(ctx: Ctx, program: Program, plan: _Plan) -> list[Supporter]:
    """Renames and released addresses are flushed before anything new can claim them."""
    paused: list[Supporter] = []
    for supporter, row in plan.changed:
        assert row.data is not None
        if row.status != supporter.status:
            supporter.status, supporter.status_changed_at = row.status, ctx.now
            if row.status == "paused":
                paused.append(supporter)
        _update(supporter, row.data)
    ctx.session.flush()
    for supporter, row in plan.changed:
        assert row.data is not None
        have = {(c.platform, c.address) for c in supporter.contacts}
        supporter.contacts += [
            SupporterContact(program_id=program.id, **c.model_dump())
            for c in row.data.contacts
            if (c.platform, c.address) not in have
        ]
    for row in plan.new:
        assert row.data is not None
        supporter = roster.build_supporter(ctx, program, row.data)
        if row.status == "paused":
            supporter.status, supporter.status_changed_at = "paused", ctx.now
        ctx.session.add(supporter)
    ctx.session.flush()
    return paused


def _update(supporter: Supporter, data: SupporterIn) -> None:
    """The file's values; a blank external_ref keeps the one on record, other contacts stay."""
    for name in (
        "alias",
        "time_zone",
        "languages",
        "topics",
        "modes",
        "weekly_cap",
        "concurrent_cap",
    ):
        setattr(supporter, name, getattr(data, name))
    if data.external_ref is not None:
        supporter.external_ref = data.external_ref
    wanted = {(c.platform, c.address) for c in data.contacts}
    supporter.contacts = [
        c
        for c in supporter.contacts
        if c.platform not in PLATFORMS or (c.platform, c.address) in wanted
    ]


def _clash(exc: IntegrityError, rows: list[RowResult]) -> RowError:
    """The row a unique constraint refused at flush, as far as the statement tells."""
    text, params = str(exc.orig), str(exc.params)
    for row in rows:
        assert row.data is not None
        candidates = [("alias", row.data.alias)]
        candidates += [(c.platform, c.address) for c in row.data.contacts]
        for column, value in candidates:
            if repr(value) in params and (column == "alias") == ("alias" in text):
                return {
                    "row": row.row,
                    "field": column,
                    "message": f"{value!r} is already used by another supporter "
                    "(to swap two values, import in two steps)",
                }
    return {
        "row": rows[0].row if rows else 1,
        "field": "file",
        "message": f"a value is already used by another supporter: {text.splitlines()[0]}",
    }
