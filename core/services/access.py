"""Who may do what: principals, roles and program scoping, checked by every service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from core.crypto import IdentityCipher
from core.errors import Forbidden, NotFound

ROLES = ("admin", "coordinator", "supporter", "service")
STAFF = frozenset({"admin", "coordinator"})


@dataclass(frozen=True)
class Principal:
    """The caller: an API token's role and scope, a requester's token, or nobody."""

    role: str  # anonymous | requester | admin | coordinator | supporter | service | system
    program_id: uuid.UUID | None = None
    supporter_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    request_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None  # a console sign-in

    @property
    def actor(self) -> str:
        """How the audit log names this caller: a token or console account id, never a name."""
        if self.account_id is not None:
            return f"account:{self.account_id}"
        return f"token:{self.token_id}" if self.token_id is not None else self.role

    @property
    def deployment_wide(self) -> bool:
        return self.program_id is None and self.role in ("admin", "service", "system")


ANONYMOUS = Principal(role="anonymous")
SYSTEM = Principal(role="system")


@dataclass(frozen=True)
class Ctx:
    """One unit of work: the session, the caller and the time it happens."""

    session: Session
    principal: Principal
    now: datetime
    cipher: IdentityCipher | None = None


def require(principal: Principal, program_id: uuid.UUID, *roles: str) -> None:
    """The caller holds one of the roles, in this program (or deployment-wide)."""
    if principal.program_id is not None and principal.program_id != program_id:
        # before the role: a 403 here would confirm the record exists, to any role
        raise NotFound("no such record")  # never confirm what another program holds
    if principal.role not in roles and principal.role != "system":
        raise Forbidden(f"the {principal.role} role may not do this")
    if principal.program_id is None and not principal.deployment_wide:
        raise Forbidden("this token is not scoped to a program")


def require_self_or(
    principal: Principal, program_id: uuid.UUID, supporter_id: uuid.UUID, *roles: str
) -> None:
    """A supporter acting on their own record, or one of the roles."""
    if principal.role == "supporter" and principal.supporter_id == supporter_id:
        require(principal, program_id, "supporter")
        return
    require(principal, program_id, *roles)
