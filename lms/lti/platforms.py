"""Platform registrations: which LMS (issuer + client id) may launch PeerLine, for which program.

A program may have several platforms and a platform several deployments. Registering the
same issuer and client id again updates it, so the CLI and Dynamic Registration can repair
a registration without a separate "edit" path.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Row, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import NotFound, ValidationFailed
from core.services import programs
from lms.lti.storage import DEPLOYMENTS, PLATFORMS, STATES

if TYPE_CHECKING:
    from core.runtime import Runtime

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_ID = 255


@dataclass(frozen=True)
class Platform:
    """One registration: the LMS's issuer and the client id it gave PeerLine."""

    id: uuid.UUID
    program_id: uuid.UUID
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    adopts_deployments: bool
    registered_by: str
    product: str | None
    deployments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Registration:
    """What an administrator (CLI) or a platform (Dynamic Registration) tells us."""

    program: str
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    deployments: tuple[str, ...] = ()
    registered_by: str = "cli"
    adopts_deployments: bool = False
    product: str | None = None


def web_url(name: str, value: str) -> str:
    """An https URL (plain http only on this machine, for a development LMS)."""
    parts = urlsplit(value)
    local = parts.scheme == "http" and parts.hostname in LOOPBACK
    if not (parts.scheme == "https" or local) or not parts.hostname or parts.username:
        raise ValidationFailed(f"{name}: must be an https URL", field=name)
    if len(value) > 1000:
        raise ValidationFailed(f"{name}: longer than 1000 characters", field=name)
    return value


def identifier(name: str, value: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_ID:
        raise ValidationFailed(f"{name}: must be 1 to {MAX_ID} characters", field=name)
    return value


def register(runtime: Runtime, registration: Registration) -> Platform:
    """Create or update the registration and add its deployments; returns it as stored."""
    data = _checked(registration)
    program_id = program_id_of(runtime, registration.program)
    now = runtime.clock.now()
    with runtime.engine.begin() as connection:
        existing = connection.scalar(
            select(PLATFORMS.c.id).where(
                PLATFORMS.c.issuer == data["issuer"], PLATFORMS.c.client_id == data["client_id"]
            )
        )
        values = {**data, "program_id": program_id, "registered_at": now}
        if existing is None:
            existing = uuid.uuid4()
            connection.execute(PLATFORMS.insert().values(id=existing, **values))
        else:
            connection.execute(PLATFORMS.update().where(PLATFORMS.c.id == existing).values(values))
        for deployment in registration.deployments:
            add_deployment(connection, existing, identifier("deployment", deployment), now)
    found = get(runtime, existing)
    assert found is not None
    return found


def remove(runtime: Runtime, issuer: str, client_id: str, deployment: str | None = None) -> str:
    """Remove one deployment, or the whole registration; launches from it are refused after.

    Returns what was removed, in words. Logins in flight for a removed registration go with
    it; bookings already made stay (they belong to the program, not to the LMS).
    """
    with runtime.engine.begin() as connection:
        platform_id = connection.scalar(
            select(PLATFORMS.c.id).where(
                PLATFORMS.c.issuer == issuer.strip(), PLATFORMS.c.client_id == client_id.strip()
            )
        )
        if platform_id is None:
            raise NotFound("no platform with this issuer and client id", field="client_id")
        if deployment is not None:
            removed = connection.execute(
                delete(DEPLOYMENTS).where(
                    DEPLOYMENTS.c.platform_id == platform_id,
                    DEPLOYMENTS.c.deployment_id == deployment.strip(),
                )
            )
            if not removed.rowcount:
                raise NotFound("the platform has no such deployment", field="deployment")
            return f"deployment {deployment.strip()}"
        for table in (DEPLOYMENTS, STATES):
            connection.execute(delete(table).where(table.c.platform_id == platform_id))
        connection.execute(delete(PLATFORMS).where(PLATFORMS.c.id == platform_id))
    return f"platform {issuer.strip()} (client {client_id.strip()})"


def _checked(registration: Registration) -> dict[str, Any]:
    return {
        "issuer": identifier("issuer", web_url("issuer", registration.issuer)),
        "client_id": identifier("client_id", registration.client_id),
        "auth_login_url": web_url("auth_url", registration.auth_login_url),
        "auth_token_url": web_url("token_url", registration.auth_token_url),
        "jwks_url": web_url("jwks_url", registration.jwks_url),
        "adopts_deployments": registration.adopts_deployments,
        "registered_by": registration.registered_by,
        "product": (registration.product or "")[:64] or None,
    }


def add_deployment(
    connection: Connection, platform_id: uuid.UUID, deployment_id: str, now: Any
) -> None:
    """Record a deployment; one already known is left as it is."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(
        dialect.insert(DEPLOYMENTS)
        .values(platform_id=platform_id, deployment_id=deployment_id, added_at=now)
        .on_conflict_do_nothing(index_elements=["platform_id", "deployment_id"])
    )


def has_deployment(connection: Connection, platform_id: uuid.UUID, deployment_id: str) -> bool:
    found = connection.scalar(
        select(DEPLOYMENTS.c.deployment_id).where(
            DEPLOYMENTS.c.platform_id == platform_id,
            DEPLOYMENTS.c.deployment_id == deployment_id,
        )
    )
    return found is not None


def find(runtime: Runtime, issuer: str, client_id: str | None) -> list[Platform]:
    """Registrations for an issuer (and client id, when the platform named one)."""
    query = select(PLATFORMS).where(PLATFORMS.c.issuer == issuer)
    if client_id is not None:
        query = query.where(PLATFORMS.c.client_id == client_id)
    return _load(runtime, query)


def get(runtime: Runtime, platform_id: uuid.UUID) -> Platform | None:
    found = _load(runtime, select(PLATFORMS).where(PLATFORMS.c.id == platform_id))
    return found[0] if found else None


def all_platforms(runtime: Runtime) -> list[Platform]:
    return _load(runtime, select(PLATFORMS).order_by(PLATFORMS.c.issuer, PLATFORMS.c.client_id))


def _load(runtime: Runtime, query: Any) -> list[Platform]:
    with runtime.engine.connect() as connection:
        rows = connection.execute(query).all()
        ids = [row.id for row in rows]
        deployed: dict[uuid.UUID, list[str]] = {platform_id: [] for platform_id in ids}
        if ids:
            for platform_id, deployment_id in connection.execute(
                select(DEPLOYMENTS.c.platform_id, DEPLOYMENTS.c.deployment_id)
                .where(DEPLOYMENTS.c.platform_id.in_(ids))
                .order_by(DEPLOYMENTS.c.deployment_id)
            ):
                deployed[platform_id].append(deployment_id)
    return [_platform(row, deployed[row.id]) for row in rows]


def _platform(row: Row[Any], deployments: Iterable[str]) -> Platform:
    return Platform(
        id=row.id,
        program_id=row.program_id,
        issuer=row.issuer,
        client_id=row.client_id,
        auth_login_url=row.auth_login_url,
        auth_token_url=row.auth_token_url,
        jwks_url=row.jwks_url,
        adopts_deployments=row.adopts_deployments,
        registered_by=row.registered_by,
        product=row.product,
        deployments=tuple(deployments),
    )


def program_id_of(runtime: Runtime, slug: str) -> uuid.UUID:
    ctx = runtime.system_ctx()
    with ctx.session:
        return programs.get_program(ctx, slug).id


def program_slug(runtime: Runtime, program_id: uuid.UUID) -> str | None:
    """The slug of a registration's program; None if the program is gone."""
    ctx = runtime.system_ctx()
    with ctx.session:
        found = [p.slug for p in programs.list_programs(ctx) if p.id == program_id]
    return found[0] if found else None


def sole_school(runtime: Runtime) -> str:
    """The only school program, the default home of a Dynamic Registration."""
    ctx = runtime.system_ctx()
    with ctx.session:
        schools = [p.slug for p in programs.list_programs(ctx) if p.kind == "school"]
    if len(schools) != 1:
        raise NotFound("there is not exactly one school program; name one", field="program")
    return schools[0]
