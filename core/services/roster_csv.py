"""Roster files: the CSV format, every row checked on its own; exports re-import as they are."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from core.errors import CsvImportFailed, ValidationFailed
from core.models import Program, Supporter
from core.schemas.supporters import SupporterIn
from core.services import audit, roster
from core.services.access import Ctx, require

COLUMNS = (
    "alias",
    "external_ref",
    "time_zone",
    "languages",
    "topics",
    "modes",
    "weekly_cap",
    "concurrent_cap",
    "status",
    "email",
    "slack",
    "teams",
)
REQUIRED = ("alias", "time_zone", "languages", "topics")
OFFERED = ("topics", "languages", "modes")
PLATFORMS = ("email", "slack", "teams")
STATUSES = ("active", "paused", "offboarded")
MAX_ROWS = 5000
MAX_BYTES = 2_000_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PATTERN_HINTS = {
    "languages": "language code such as en or pt-BR",
    "modes": "mode (text, video or in_person)",
}

MODES_DEFAULT = SupporterIn.model_fields["modes"].get_default(call_default_factory=True)

RowError = dict[str, Any]


@dataclass
class RowResult:
    """One line of the file: the supporter it describes, or why it describes none."""

    row: int
    data: SupporterIn | None = None
    status: str = "active"
    errors: list[RowError] = field(default_factory=list)
    keys: list[tuple[str, str]] = field(default_factory=list)  # what must be unique in a file

    def fail(self, column: str, message: str) -> None:
        self.errors.append({"row": self.row, "field": column, "message": message})


def decode(data: bytes) -> str:
    """Uploaded bytes as text: UTF-8 with or without a byte-order mark, nothing else."""
    if len(data) > MAX_BYTES:
        raise CsvImportFailed([_too_large()])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvImportFailed(
            [
                {
                    "row": line,
                    "field": "file",
                    "message": "not UTF-8 text; save the file as 'CSV UTF-8'",
                }
            ]
        ) from None


def parse(text: str, program: Program) -> list[RowResult]:
    """Check every row against the schema, the program's offer and the rest of the file."""
    header = RowResult(row=1)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return [RowResult(row=1, errors=[_too_large()])]
    records, broken = _records(text.removeprefix("\ufeff"))
    if not records:
        header.fail("file", "the file is empty; its first line must name the columns")
        return [header]
    names = _check_header(header, records[0][1])
    rows = [(line, cells) for line, cells in records[1:] if any(c.strip() for c in cells)]
    if len(rows) > MAX_ROWS:
        header.fail("file", f"{len(rows)} rows; a file holds at most {MAX_ROWS} supporters")
    if header.errors and (len(rows) > MAX_ROWS or not set(REQUIRED) <= set(names)):
        return [header]
    results = [header] if header.errors else []
    seen: dict[tuple[str, str], int] = {}
    for line, cells in rows:
        result = _row(line, names, cells, program)
        _check_repeats(result, seen)
        results.append(result)
    return results + ([broken] if broken else [])


def export_csv(ctx: Ctx, program: Program) -> str:
    """The whole roster, offboarded supporters included, in the format `import_csv` reads."""
    require(ctx.principal, program.id, "admin", "coordinator")
    found = ctx.session.scalars(select(Supporter).where(Supporter.program_id == program.id))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    rows = sorted(found, key=lambda s: (s.alias.casefold(), s.alias))
    for supporter in rows:
        writer.writerow([_escape(cell) for cell in _cells(supporter)])
    # the file holds supporters' addresses: who took a copy, and when, is on record
    audit.record(ctx, program.id, "supporters.exported", "program", program.id, rows=len(rows))
    ctx.session.commit()
    return out.getvalue()


def _cells(s: Supporter) -> list[str]:
    contacts = {p: sorted(c.address for c in s.contacts if c.platform == p) for p in PLATFORMS}
    if s.status == "offboarded":
        contacts = {p: [] for p in PLATFORMS}
    caps = ["" if cap is None else str(cap) for cap in (s.weekly_cap, s.concurrent_cap)]
    return [
        s.alias,
        s.external_ref or "",
        s.time_zone,
        ";".join(s.languages),
        ";".join(s.topics),
        ";".join(s.modes),
        *caps,
        s.status,
        *(";".join(contacts[p]) for p in PLATFORMS),
    ]


def _escape(cell: str) -> str:
    """A spreadsheet must show the cell, not run it as a formula."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def _unescape(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def _too_large() -> RowError:
    return {
        "row": 1,
        "field": "file",
        "message": f"file too large: at most {MAX_BYTES // 10**6} MB",
    }


def _records(text: str) -> tuple[list[tuple[int, list[str]]], RowResult | None]:
    """(first line of each record, its cells) and, if the CSV breaks off, where and why."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        broken = RowResult(row=start)
        broken.fail("file", f"not valid CSV from here on: {exc}")
        return records, broken
    return records, None


def _check_header(header: RowResult, cells: list[str]) -> list[str]:
    names = [cell.strip().lower() for cell in cells]
    for position, name in enumerate(names, start=1):
        if not name:
            header.fail(f"column {position}", "this column has no name")
        elif name not in COLUMNS:
            header.fail(name, f"unknown column {name!r} (known: {', '.join(COLUMNS)})")
        elif names.index(name) != position - 1:
            header.fail(name, f"column {name!r} appears more than once")
    for name in REQUIRED:
        if name not in names:
            header.fail(name, f"missing column {name!r}; every file needs {', '.join(REQUIRED)}")
    return names


def _row(line: int, names: list[str], cells: list[str], program: Program) -> RowResult:
    result = RowResult(row=line)
    if len(cells) > len(names):
        result.fail("file", f"{len(cells)} cells but the header names {len(names)} columns")
        return result
    values = {n: _unescape(c.strip()) for n, c in zip(names, cells, strict=False) if n in COLUMNS}
    status = values.get("status", "")
    if (status.lower() or "active") in STATUSES:
        result.status = status.lower() or "active"
    else:
        result.fail("status", f"{status!r} is not a status: use active or paused (blank = active)")
    payload, contact_columns = _payload(values)
    result.keys = [(n, values[n]) for n in ("alias", "external_ref") if values.get(n)]
    result.keys += [(c["platform"], c["address"]) for c in payload["contacts"]]
    try:
        result.data = SupporterIn.model_validate(payload, strict=False)
    except ValidationError as exc:
        for error in exc.errors():
            result.fail(_column(error["loc"], contact_columns), _message(error))
    if result.status != "offboarded":
        _check_offered(result, program, payload)
    if result.status == "offboarded" and payload["contacts"]:
        result.fail(
            "status",
            "an offboarded supporter keeps no contact data; leave email, slack and teams blank",
        )
    return result


def _split(cell: str) -> list[str]:
    return [item.strip() for item in cell.split(";") if item.strip()]


def _payload(values: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The row as SupporterIn input; blank optional cells become None or the schema default."""
    payload: dict[str, Any] = {n: values[n] for n in ("alias", "time_zone") if values.get(n)}
    payload.update({n: _split(values.get(n, "")) for n in ("languages", "topics")})
    if _split(values.get("modes", "")):
        payload["modes"] = _split(values["modes"])
    for name in ("external_ref", "weekly_cap", "concurrent_cap"):
        payload[name] = values.get(name) or None
    contacts = [(p, a) for p in PLATFORMS for a in _split(values.get(p, ""))]
    payload["contacts"] = [{"platform": p, "address": a} for p, a in contacts]
    return payload, [p for p, _ in contacts]


def _column(loc: tuple[int | str, ...], contact_columns: list[str]) -> str:
    if loc[0] == "contacts":
        if len(loc) > 1 and isinstance(loc[1], int):
            return contact_columns[loc[1]]
        return "email, slack, teams"
    return str(loc[0])


def _message(error: Any) -> str:
    kind, column = error["type"], str(error["loc"][0])
    if kind == "missing":
        return "required"
    if kind == "too_short" and column in OFFERED:
        return "give at least one (separate several with ;)"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = error["ctx"].get("ge", error["ctx"].get("le"))
        return f"must be {'at least' if 'ge' in error['ctx'] else 'at most'} {bound}"
    if kind == "int_parsing":
        return f"{error['input']!r} is not a whole number"
    if kind == "string_pattern_mismatch" and column in PATTERN_HINTS:
        return f"{error['input']!r} is not a {PATTERN_HINTS[column]}"
    return str(error["msg"]).removeprefix("Value error, ")


def _check_offered(result: RowResult, program: Program, payload: dict[str, Any]) -> None:
    """Also on rows with other errors; a column the schema refused is not checked twice."""
    refused = {e["field"] for e in result.errors}
    for column in (c for c in OFFERED if c not in refused):
        given = payload.get(column, MODES_DEFAULT)
        try:
            roster._check_offered(program, **{c: given if c == column else None for c in OFFERED})
        except ValidationFailed as exc:
            result.fail(column, exc.message.removeprefix(f"{column}: "))


def _check_repeats(result: RowResult, seen: dict[tuple[str, str], int]) -> None:
    """Aliases, external refs and contact addresses name one supporter each in a file."""
    mine: set[tuple[str, str]] = set()
    for key in result.keys:
        column, value = key
        if key in mine:
            result.fail(column, f"{value!r} is listed twice")
            continue
        mine.add(key)
        first = seen.setdefault(key, result.row)
        if first != result.row:
            result.fail(column, f"{value!r} is also on row {first}")
