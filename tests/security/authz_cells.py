"""The vocabulary of the authorization matrix: expected outcomes per role, and how to call."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.security.authz_world import ROLES, World

Outcome = str
"""'2xx'; '3xx' (a redirect that is not to the sign-in page); 'sign-in' (a redirect to the
console's sign-in page); an exact status such as '401', '403', '404'; or 'refused' (any 4xx,
for endpoints that authenticate by their own means)."""
Values = dict[str, str]
Setup = Callable[[World], Values]
Form = Mapping[str, Any] | Callable[[World, Values], Mapping[str, Any]]
Json = Any


@dataclass(frozen=True)
class Do:
    """How a cell calls its endpoint: path values, body, and a fresh target made beforehand.

    Path parameters are taken from the world's records (`ash`, `main_request`, ...) unless
    `setup` makes fresh ones. When the setup returns a `token` (a fresh request's own), the
    requester role calls with it: its own request, never the world's.
    """

    params: Mapping[str, str] = field(default_factory=dict)
    query: str = ""
    json: Json = None
    form: Form | None = None
    setup: Setup | None = None
    cleanup: Callable[[World, Values], None] | None = None
    each: tuple[Values, ...] = ({},)
    fresh_session: bool = False


@dataclass(frozen=True)
class Entry:
    """Expected outcome per role, how to call, and (if any) the endpoint's own authentication."""

    outcomes: Mapping[str, Outcome]
    do: Do = field(default_factory=Do)
    own_auth: str = ""


def _complete(outcomes: dict[str, Outcome]) -> dict[str, Outcome]:
    missing = [role for role in ROLES if role not in outcomes]
    assert not missing, f"no outcome for {missing}"
    return outcomes


def api(ok: str, *, other_admin: Outcome, **given: Outcome) -> dict[str, Outcome]:
    """Bearer-token endpoints: the roles in `ok` get 2xx, nobody 401, everyone else 403."""
    allowed = ok.split()
    out = {role: "2xx" if role in allowed else "403" for role in ROLES}
    out["anonymous"] = "2xx" if "anonymous" in allowed else "401"
    out["other_requester"] = out["requester"]
    return _complete({**out, "other_admin": other_admin, **given})


def page(ok: str, *, other_admin: Outcome, done: Outcome = "2xx") -> dict[str, Outcome]:
    """Console pages: signed-in roles in `ok` get `done`; no console session: the sign-in page."""
    allowed = ok.split()
    out = {role: done if role in allowed else "403" for role in ROLES}
    for role in ("anonymous", "requester", "other_requester", "service"):
        out[role] = "sign-in"  # a bearer token is no console session
    return _complete({**out, "other_admin": other_admin})


def everyone(outcome: Outcome, **given: Outcome) -> dict[str, Outcome]:
    return _complete({**dict.fromkeys(ROLES, outcome), **given})


def own(how: str, refused: Outcome = "refused", do: Do | None = None) -> Entry:
    """An endpoint that identifies its caller by other means: no role's credentials open it."""
    return Entry(everyone(refused), do or Do(), own_auth=f"own authentication: {how}")


_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def fill(rule: str, values: Mapping[str, str]) -> str:
    return _PARAM.sub(lambda m: values[m.group(1)], rule)


def rule_params(rule: str) -> list[str]:
    return _PARAM.findall(rule)


def ids_in(rule: str) -> bool:
    """Whether a rule names a record (beyond the program) in its path."""
    return any(p.endswith("_id") for p in rule_params(rule))
