"""Every endpoint x every role: the expected outcome, nothing changed when refused, no leaks.

The expectations are written by hand in authz_table.py (JSON API) and authz_pages.py (console,
plugins, public pages); the endpoints come from the app's url_map, so an endpoint added
without an entry fails here. One world per database serves every cell.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import postgres_url, reset_postgres
from tests.security.authz_cells import Do, Entry, Outcome, Values, fill, ids_in, rule_params
from tests.security.authz_pages import CONSOLE, PLUGINS
from tests.security.authz_setup import built_world, secrets_of
from tests.security.authz_table import API
from tests.security.authz_world import (
    NOTES,
    OTHER_PROGRAM,
    ROLES,
    STAFF,
    UNASSIGNED_NOTE,
    World,
)

TABLE: dict[tuple[str, str], Entry] = {**API, **CONSOLE, **PLUGINS}
DENIED = frozenset({"sign-in", "400", "401", "403", "404", "refused"})
CELLS = [(method, rule, role) for (method, rule) in TABLE for role in ROLES]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("authz")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'matrix.sqlite3'}"
    else:
        url = postgres_url()
        reset_postgres(url)
    with built_world(url, Path(tmp)) as built:
        yield built


def outcome_of(response: TestResponse) -> Outcome:
    """The status class a user would notice; a redirect to sign in is its own outcome."""
    status = response.status_code
    if 300 <= status < 400:
        target = urlsplit(response.headers.get("Location", ""))
        signing_in = target.path == "/console/sign-in" and "next=" in target.query
        return "sign-in" if signing_in else "3xx"
    return "2xx" if 200 <= status < 300 else str(status)


def matches(expected: Outcome, actual: Outcome) -> bool:
    if expected == "refused":
        return actual.startswith("4")
    return expected == actual


def values_of(world: World, do: Do, each: Values) -> Values:
    made = world.made
    values = {
        "slug": "acme",
        "ash": made.ash,
        "supporter_id": made.ash,
        "request_id": made.main_request,
        "booking_id": made.main_booking,
        "offer_id": made.other_offer,
    }
    return {**values, **(do.setup(world) if do.setup else {}), **each}


def caller(world: World, role: str, values: Values, do: Do) -> tuple[FlaskClient, dict[str, str]]:
    """The role's console session (if it has one) and bearer token (if it has one)."""
    if do.fresh_session and role in world.consoles:
        client = world.signed_in(role)
    else:
        client = world.console_client(role)
    token = world.tokens.get(role)
    if role == "requester" and "own_token" in values:
        token = values["own_token"]  # a fresh request's own requester
    return client, ({"Authorization": f"Bearer {token}"} if token else {})


@dataclass(frozen=True)
class Prepared:
    """A cell's request, built in full (forms read) before anything is compared."""

    client: FlaskClient
    path: str
    method: str
    options: dict[str, Any]

    def send(self) -> TestResponse:
        """The response, read in full and closed (a static file's handle with it)."""
        response = self.client.open(self.path, method=self.method, **self.options)
        response.get_data()
        response.close()
        return response


def prepare(world: World, method: str, rule: str, role: str, do: Do, values: Values) -> Prepared:
    client, headers = caller(world, role, values, do)
    path = fill(rule, values)
    if do.query:
        path += "?" + do.query.format_map(values)
    body = do.json(values) if callable(do.json) else do.json
    form = do.form(world, values) if callable(do.form) else do.form
    if rule.startswith("/console") and method != "GET":
        form = {**(form or {}), "csrf_token": world.csrf(client)}
    return Prepared(client, path, method, {"json": body, "data": form, "headers": headers})


def send(world: World, method: str, rule: str, role: str, do: Do, values: Values) -> TestResponse:
    return prepare(world, method, rule, role, do, values).send()


def text_of(response: TestResponse) -> str:
    """The body as text; a zip download (an app package) as the text of its files."""
    data = response.get_data()
    if data[:4] != b"PK\x03\x04":
        return data.decode("utf-8", "replace")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "\n".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())


def changed(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    return sorted(name for name in before if before[name] != after[name])


def hidden_from(world: World, role: str) -> list[str]:
    """What this role's responses may never contain.

    Nobody sees a requester's identity or token. An integration (service) relays requests, and
    Ash (supporter) is assigned the two main ones, so they may see those notes and ids, but
    Ash never sees the request offered to Birch. A requester sees only its own request. Staff,
    another program and anonymous callers see no note, request id or requester alias at all.
    """
    secrets, made = secrets_of(world), world.made
    hidden = list(secrets["identity"])
    if role == "service":
        return hidden
    hidden += secrets["unassigned"]
    if role == "supporter":
        return hidden
    mine = {
        "requester": (made.main_request, made.main_alias),
        "other_requester": (made.other_request, made.other_alias),
    }.get(role, ())
    return hidden + secrets["note"] + [s for s in secrets["request"] if s not in mine]


def check_cell(world: World, method: str, rule: str, role: str) -> list[str]:
    """Run one cell; the problems found (empty when it behaved as the table says)."""
    entry = TABLE[(method, rule)]
    expected, do, problems = entry.outcomes[role], entry.do, []
    for each in do.each:
        values = values_of(world, do, each)
        watch = expected in DENIED and (method != "GET" or bool(entry.own_auth))
        prepared = prepare(world, method, rule, role, do, values)
        before = world.snapshot() if watch else {}
        response = prepared.send()
        actual = outcome_of(response)
        if not matches(expected, actual):
            problems.append(f"{fill(rule, values)}: expected {expected}, got {actual}")
        if watch and (tables := changed(before, world.snapshot())):
            problems.append(f"refused, yet it changed {tables}")
        body = text_of(response)
        problems += [f"the body shows {s!r}" for s in hidden_from(world, role) if s in body]
        if do.cleanup:
            do.cleanup(world, values)
    return problems


def test_every_endpoint_has_expected_outcomes(world: World) -> None:
    routes = {
        (method, rule.rule)
        for rule in world.app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    missing = [
        f"endpoint {m} {r} has no expected outcomes; add it" for m, r in routes - TABLE.keys()
    ]
    assert not missing, (
        "\n".join(sorted(missing)) + "\n(tests/security/authz_table.py, authz_pages.py)"
    )
    gone = TABLE.keys() - routes
    assert not gone, f"entries for endpoints that no longer exist: {sorted(gone)}"


@pytest.mark.parametrize(("method", "rule", "role"), CELLS, ids=[" ".join(c) for c in CELLS])
def test_cell(world: World, method: str, rule: str, role: str) -> None:
    problems = check_cell(world, method, rule, role)
    assert not problems, f"{method} {rule} as {role}:\n" + "\n".join(problems)


def _elsewhere(values: Values) -> Values:
    """The same call about records that do not exist: a random id, an unknown program."""
    fake = {k: str(uuid.uuid4()) for k in values if k.endswith("_id") or k == "ash"}
    return {**values, **fake, "slug": "no-such-program"}


def names_acme(rule: str, do: Do) -> bool:
    """Whether a call names acme or one of its records (in the path or the query)."""
    return "slug" in rule_params(rule) or ids_in(rule) or "{" in do.query


OTHERS = [
    (m, r, role)
    for (m, r), e in TABLE.items()
    if e.outcomes["other_admin"] in DENIED and not e.own_auth and names_acme(r, e.do)
    for role in OTHER_PROGRAM
]


@pytest.mark.parametrize(("method", "rule", "role"), OTHERS, ids=[" ".join(c) for c in OTHERS])
def test_another_programs_people_cannot_tell_what_exists(
    world: World, method: str, rule: str, role: str
) -> None:
    """Refused about acme's records exactly as about records that exist nowhere; no leaks."""
    do = TABLE[(method, rule)].do
    for each in do.each:
        real = values_of(world, do, each)
        prepared = prepare(world, method, rule, role, do, real)
        before = world.snapshot()
        response = prepared.send()
        tables = changed(before, world.snapshot())
        assert not tables, f"{prepared.path} changed {tables}"
        shown = text_of(response)
        assert not [s for s in hidden_from(world, role) if s in shown], prepared.path
        fake = _elsewhere(real)
        path = fill(rule, fake) + ("?" + do.query.format_map(fake) if do.query else "")
        again = prepare(world, method, rule, role, do, real)  # an upload is read only once
        seen, unknown = outcome_of(response), outcome_of(replace(again, path=path).send())
        assert seen == unknown, f"{prepared.path}: {seen} for acme's, {unknown} for none"
        assert seen in DENIED, f"{prepared.path}: {seen}"
        if do.cleanup:
            do.cleanup(world, real)


OWN_SLUG = [
    (m, r)
    for (m, r), e in CONSOLE.items()
    if "slug" in rule_params(r) and ids_in(r) and e.outcomes["admin"] in ("2xx", "3xx")
]


@pytest.mark.parametrize(("method", "rule"), OWN_SLUG, ids=[" ".join(c) for c in OWN_SLUG])
def test_acme_ids_under_another_programs_slug_are_not_found(
    world: World, method: str, rule: str
) -> None:
    """globex's admin, on globex's own pages, naming acme's records: 404 and nothing changed."""
    do = TABLE[(method, rule)].do
    for each in do.each:
        values = {**values_of(world, do, each), "slug": "globex"}
        prepared = prepare(world, method, rule, "other_admin", do, values)
        before = world.snapshot()
        response = prepared.send()
        assert response.status_code == 404, (fill(rule, values), response.status_code)
        tables = changed(before, world.snapshot())
        assert not tables, f"{fill(rule, values)} changed {tables}"
        if do.cleanup:
            do.cleanup(world, values)


def test_the_scan_looks_for_what_is_really_there(world: World) -> None:
    """The hidden things exist and are shown to whom they belong: the scans are not vacuous."""
    made, client = world.made, world.app.test_client()

    def seen(path: str, role: str) -> str:
        return client.get(path, headers={"Authorization": f"Bearer {world.tokens[role]}"}).text

    assert NOTES[0] in seen(f"/api/v1/requests/{made.main_request}/assigned", "supporter")
    assert NOTES[1] in seen(f"/api/v1/requests/{made.other_request}/assigned", "service")
    assert UNASSIGNED_NOTE in seen(
        f"/api/v1/requests/{made.unassigned_request}/assigned", "service"
    )
    assert made.main_alias in seen(f"/api/v1/requests/{made.main_request}", "requester")
    assert made.main_alias in seen(f"/api/v1/bookings/{made.main_booking}", "supporter")
    assert set(STAFF) | {"anonymous"} <= set(ROLES)  # each is scanned in every cell
