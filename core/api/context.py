"""The unit of work for the current HTTP request."""

from __future__ import annotations

from flask import g

from core.runtime import db_session, runtime
from core.services.access import ANONYMOUS, Ctx


def ctx() -> Ctx:
    current = runtime()
    return Ctx(
        session=db_session(),
        principal=g.get("principal", ANONYMOUS),
        now=current.clock.now(),
        cipher=current.cipher,
    )
