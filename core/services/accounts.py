"""Console accounts: local passwords (argon2id) with lock-out, single sign-on links, sessions.

A wrong e-mail and a wrong password look the same to the person signing in, and take the
same time. Five failures in a row lock the account for fifteen minutes; the lock is per
account, so guessing one address cannot lock out another. Sessions are random tokens whose
hash is stored, so signing out (or an admin disabling the account) ends them at once.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select

from core.crypto import new_secret_token, token_digest
from core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from core.models import ConsoleAccount, ConsoleSession, Program, Supporter
from core.ports import ExternalIdentity
from core.services import audit
from core.services.access import Ctx, Principal, require

SESSION_PREFIX = "pls_"
SESSION_IDLE = timedelta(hours=8)
SESSION_LONGEST = timedelta(hours=24)
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 12
ROLES = ("admin", "coordinator", "supporter")
WRONG = "That e-mail address and password do not match an account."
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY = _hasher.hash("a password nobody has, to spend the same time on unknown e-mails")


class Locked(Unauthorized):
    """Too many failed sign-ins: the account refuses passwords until `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__("too many failed sign-ins; try again later", until=until.isoformat())
        self.until = until


def normal_email(value: str) -> str:
    email = value.strip().lower()
    if (
        not (3 <= len(email) <= 254)
        or "@" not in email.strip("@")
        or any(c.isspace() for c in email)
    ):
        raise ValidationFailed("enter an e-mail address, like name@example.org", field="email")
    return email


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(
            f"a password needs at least {MIN_PASSWORD} characters", field="password"
        )
    if len(password) > 1024:
        raise ValidationFailed("a password may have at most 1024 characters", field="password")


def create(
    ctx: Ctx,
    *,
    email: str,
    role: str,
    display_name: str,
    program_id: uuid.UUID | None,
    supporter_id: uuid.UUID | None = None,
    password: str | None = None,
) -> ConsoleAccount:
    """Add an account; a program's admin adds accounts for their own program only."""
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", field="role")
    if program_id is None:
        if role != "admin":
            raise ValidationFailed(f"a {role} account needs a program", field="program")
        if not ctx.principal.deployment_wide:
            raise Forbidden("only a deployment admin may add deployment-wide admins")
    else:
        require(ctx.principal, program_id, "admin")
        if ctx.session.get(Program, program_id) is None:
            raise NotFound("no such program", field="program")
    if role == "supporter":
        supporter = ctx.session.get(Supporter, supporter_id) if supporter_id else None
        if supporter is None or supporter.program_id != program_id:
            raise ValidationFailed("choose a supporter of this program", field="supporter_id")
    name = display_name.strip()
    if not 1 <= len(name) <= 120:
        raise ValidationFailed("a name of 1 to 120 characters is needed", field="display_name")
    address = normal_email(email)
    if password is not None:
        check_password(password)
    if ctx.session.scalar(select(ConsoleAccount.id).where(ConsoleAccount.email == address)):
        raise Conflict("an account with this e-mail address exists", field="email")
    account = ConsoleAccount(
        id=uuid.uuid4(),
        program_id=program_id,
        supporter_id=supporter_id if role == "supporter" else None,
        role=role,
        email=address,
        display_name=name,
        password_hash=_hasher.hash(password) if password is not None else None,
        failed_sign_ins=0,
        created_at=ctx.now,
    )
    ctx.session.add(account)
    audit.record(ctx, program_id, "account.created", "account", account.id, role=role)
    return account


def set_password(ctx: Ctx, account_id: uuid.UUID, password: str) -> None:
    """A new password (by the account itself, an admin of its program, or the operator)."""
    account = _account(ctx, account_id)
    if ctx.principal.account_id != account.id:
        _require_manager(ctx, account)
    check_password(password)
    account.password_hash = _hasher.hash(password)
    account.failed_sign_ins, account.locked_until = 0, None
    ctx.session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == account.id))
    audit.record(ctx, account.program_id, "account.password_set", "account", account.id)


def unlock(ctx: Ctx, account_id: uuid.UUID) -> None:
    account = _account(ctx, account_id)
    _require_manager(ctx, account)
    account.failed_sign_ins, account.locked_until = 0, None
    audit.record(ctx, account.program_id, "account.unlocked", "account", account.id)


def disable(ctx: Ctx, account_id: uuid.UUID) -> None:
    """No more sign-ins; every session of the account ends now."""
    account = _account(ctx, account_id)
    _require_manager(ctx, account)
    if ctx.principal.account_id == account.id:
        raise Conflict("you cannot disable your own account", field="account")
    account.disabled_at = ctx.now
    ctx.session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == account.id))
    audit.record(ctx, account.program_id, "account.disabled", "account", account.id)


def list_accounts(ctx: Ctx, program_id: uuid.UUID) -> list[ConsoleAccount]:
    require(ctx.principal, program_id, "admin")
    query = select(ConsoleAccount).where(ConsoleAccount.program_id == program_id)
    return list(ctx.session.scalars(query.order_by(ConsoleAccount.email)))


def sign_in_with_password(ctx: Ctx, email: str, password: str) -> ConsoleAccount:
    """The account, if the password is right and it is neither locked nor disabled."""
    try:
        address = normal_email(email)
    except ValidationFailed:
        address = ""
    account = ctx.session.scalar(
        select(ConsoleAccount).where(ConsoleAccount.email == address).with_for_update()
    )
    if account is None or account.password_hash is None or account.disabled_at is not None:
        _spend_time(password)
        raise Unauthorized(WRONG)
    if account.locked_until is not None and account.locked_until > ctx.now:
        raise Locked(account.locked_until)
    try:
        _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        account.failed_sign_ins += 1
        if account.failed_sign_ins >= LOCK_AFTER:
            account.locked_until, account.failed_sign_ins = ctx.now + LOCK_FOR, 0
            audit.record(ctx, account.program_id, "account.locked", "account", account.id)
        ctx.session.commit()
        if account.locked_until is not None and account.locked_until > ctx.now:
            raise Locked(account.locked_until) from None
        raise Unauthorized(WRONG) from None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    return account


def sign_in_external(ctx: Ctx, identity: ExternalIdentity) -> ConsoleAccount:
    """The account linked to this identity, linking it on first use by its e-mail address.

    Only accounts an admin created can sign in: single sign-on never creates one.
    """
    account = ctx.session.scalar(
        select(ConsoleAccount).where(
            ConsoleAccount.external_issuer == identity.issuer,
            ConsoleAccount.external_subject == identity.subject,
        )
    )
    if account is None and identity.email:
        account = ctx.session.scalar(
            select(ConsoleAccount).where(
                ConsoleAccount.email == identity.email.strip().lower(),
                ConsoleAccount.external_subject.is_(None),
            )
        )
        if account is not None:
            account.external_issuer, account.external_subject = identity.issuer, identity.subject
    if account is None or account.disabled_at is not None:
        raise Unauthorized("there is no PeerLine account for you; ask your program's admin")
    return account


def start_session(ctx: Ctx, account: ConsoleAccount, method: str) -> str:
    """A new session for the account; returns the token for the cookie (shown only here)."""
    token = new_secret_token(SESSION_PREFIX)
    ctx.session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < ctx.now))
    ctx.session.add(
        ConsoleSession(
            token_hash=token_digest(token),
            account_id=account.id,
            created_at=ctx.now,
            last_seen_at=ctx.now,
            expires_at=ctx.now + SESSION_LONGEST,
            method=method,
        )
    )
    account.failed_sign_ins, account.locked_until = 0, None
    account.last_sign_in_at = ctx.now
    as_account = Ctx(ctx.session, principal_of(account), ctx.now, ctx.cipher)
    audit.record(
        as_account, account.program_id, "account.signed_in", "account", account.id, via=method
    )
    ctx.session.commit()
    return token


def resume(ctx: Ctx, token: str | None) -> tuple[ConsoleAccount, Principal] | None:
    """The signed-in account of a cookie's token; None when absent, expired or idle too long."""
    if not token or not token.startswith(SESSION_PREFIX):
        return None
    row = ctx.session.get(ConsoleSession, token_digest(token))
    if row is None or row.expires_at <= ctx.now or row.last_seen_at + SESSION_IDLE <= ctx.now:
        return None
    account = ctx.session.get(ConsoleAccount, row.account_id)
    if account is None or account.disabled_at is not None:
        return None
    if ctx.now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = ctx.now
        ctx.session.commit()
    return account, principal_of(account)


def end_session(ctx: Ctx, token: str | None) -> None:
    if token:
        ctx.session.execute(
            delete(ConsoleSession).where(ConsoleSession.token_hash == token_digest(token))
        )
        ctx.session.commit()


def principal_of(account: ConsoleAccount) -> Principal:
    return Principal(
        role=account.role,
        program_id=account.program_id,
        supporter_id=account.supporter_id,
        account_id=account.id,
    )


def count(ctx: Ctx) -> int:
    return int(ctx.session.scalar(select(func.count()).select_from(ConsoleAccount)) or 0)


def find_by_email(ctx: Ctx, email: str) -> ConsoleAccount | None:
    return ctx.session.scalar(
        select(ConsoleAccount).where(ConsoleAccount.email == normal_email(email))
    )


def get_in_program(ctx: Ctx, account_id: uuid.UUID, program_id: uuid.UUID) -> ConsoleAccount:
    """An account of this program, for its admins; others' accounts are 'not found'."""
    require(ctx.principal, program_id, "admin")
    account = ctx.session.get(ConsoleAccount, account_id)
    if account is None or account.program_id != program_id:
        raise NotFound("no such account", field="account")
    return account


def _account(ctx: Ctx, account_id: uuid.UUID) -> ConsoleAccount:
    account = ctx.session.get(ConsoleAccount, account_id)
    if account is None:
        raise NotFound("no such account", field="account")
    return account


def _require_manager(ctx: Ctx, account: ConsoleAccount) -> None:
    if account.program_id is None:
        if not ctx.principal.deployment_wide:
            raise NotFound("no such account", field="account")
        return
    require(ctx.principal, account.program_id, "admin")


def _spend_time(password: str) -> None:
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_DUMMY, password)
