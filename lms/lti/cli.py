"""`peerline lti …`: register platforms by hand, list and remove them, print the Canvas key
and the Dynamic Registration link, rotate and retire the tool's signing keys."""

from __future__ import annotations

import json
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from core.runtime import Runtime, runtime
from lms.lti import platforms
from lms.lti.keys import ToolKeys
from lms.lti.platforms import Registration
from lms.lti.registration import registration_url
from lms.lti.tool import ToolUrls, canvas_developer_key


def _current() -> Runtime:
    return runtime(current_app)


def _urls(url: str | None) -> ToolUrls:
    base = (url or _current().settings.public_url or "").rstrip("/")
    if not base.startswith("https://"):
        raise click.UsageError("give --url https://… or set PEERLINE_PUBLIC_URL (LMSs need https)")
    return ToolUrls(base)


@click.group("lti")
def lti_group() -> None:
    """LTI 1.3: the LMS platforms that may launch PeerLine."""


@lti_group.command("register")
@click.option("--program", required=True, help="Slug of the program the platform belongs to")
@click.option("--issuer", required=True, help="The platform's issuer (iss)")
@click.option("--client-id", required=True, help="The client id the platform gave PeerLine")
@click.option("--auth-url", required=True, help="The platform's OIDC authentication URL")
@click.option("--token-url", required=True, help="The platform's OAuth2 token URL")
@click.option("--jwks-url", required=True, help="The platform's public key set URL")
@click.option("--deployment", "deployments", multiple=True, help="A deployment id (repeatable)")
@with_appcontext
def register_command(
    program: str,
    issuer: str,
    client_id: str,
    auth_url: str,
    token_url: str,
    jwks_url: str,
    deployments: tuple[str, ...],
) -> None:
    """Register (or update) a platform for a program, with its deployment ids."""
    platform = platforms.register(
        _current(),
        Registration(
            program=program,
            issuer=issuer,
            client_id=client_id,
            auth_login_url=auth_url,
            auth_token_url=token_url,
            jwks_url=jwks_url,
            deployments=deployments,
        ),
    )
    listed = ", ".join(platform.deployments) or "none yet: launches are refused until one is added"
    click.echo(f"registered {platform.issuer} (client {platform.client_id}) for {program}")
    click.echo(f"deployments: {listed}")


@lti_group.command("platforms")
@with_appcontext
def platforms_command() -> None:
    """List the registered platforms: program, issuer, client id, deployments."""
    found = platforms.all_platforms(_current())
    if not found:
        click.echo("no LTI platforms registered")
    for platform in found:
        program = platforms.program_slug(_current(), platform.program_id) or "(program gone)"
        deployments = ", ".join(platform.deployments) or "-"
        if platform.adopts_deployments:
            deployments += " (new deployments are added on their first launch)"
        click.echo(
            f"{program}\t{platform.issuer}\tclient {platform.client_id}\t"
            f"deployments: {deployments}\t({platform.registered_by})"
        )


@lti_group.command("remove")
@click.option("--issuer", required=True, help="The platform's issuer (iss)")
@click.option("--client-id", required=True, help="The client id the platform gave PeerLine")
@click.option("--deployment", help="Remove only this deployment id, not the platform")
@with_appcontext
def remove_command(issuer: str, client_id: str, deployment: str | None) -> None:
    """Remove a platform, or one of its deployments: launches from it are refused after."""
    found = platforms.find(_current(), issuer.strip(), client_id.strip())
    removed = platforms.remove(_current(), issuer, client_id, deployment)
    click.echo(f"removed {removed}; bookings already made stay")
    if deployment is not None and found and found[0].adopts_deployments:
        click.echo(
            "note: this platform adds deployments on their first launch, so a launch from "
            "that deployment would add it again; remove the platform to stop it",
            err=True,
        )


@lti_group.command("canvas-key")
@click.option("--url", help="PeerLine's public https URL (default PEERLINE_PUBLIC_URL)")
@with_appcontext
def canvas_key_command(url: str | None) -> None:
    """Print the Canvas developer key JSON (Developer Keys → + LTI Key → Paste JSON)."""
    urls = _urls(url)
    click.echo(json.dumps(canvas_developer_key(urls), indent=2))
    click.echo(f"Redirect URIs: {urls.launch}", err=True)


@lti_group.command("registration-url")
@click.option("--program", required=True, help="Slug of the program platforms will belong to")
@click.option("--url", help="PeerLine's public https URL (default PEERLINE_PUBLIC_URL)")
@with_appcontext
def registration_url_command(program: str, url: str | None) -> None:
    """Print the Dynamic Registration URL to paste into Moodle, Canvas or Brightspace."""
    platforms.program_id_of(_current(), program)
    click.echo(registration_url(_current(), _urls(url), program))


@lti_group.command("rotate-key")
@with_appcontext
def rotate_key_command() -> None:
    """Make a new tool signing key; older keys stay published for tokens already signed."""
    keys = ToolKeys(_current())
    kid = keys.rotate()
    reencrypted = keys.reencrypt()
    click.echo(f"new signing key {kid}; {reencrypted} key(s) now under the newest identity key")


@lti_group.command("retire-keys")
@click.option(
    "--after-hours",
    type=click.IntRange(min=1),
    default=24,
    show_default=True,
    help="Retire keys replaced at least this long ago",
)
@with_appcontext
def retire_keys_command(after_hours: int) -> None:
    """Stop publishing signing keys replaced by `rotate-key` (the newest is always kept)."""
    gone = ToolKeys(_current()).retire(timedelta(hours=after_hours))
    click.echo(f"retired {len(gone)} key(s)" + (": " + ", ".join(gone) if gone else ""))
