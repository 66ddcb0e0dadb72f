"""`peerline teams manifest`: the Teams app package (manifest.json and two icons, zipped)."""

from __future__ import annotations

import io
import json
import struct
import uuid
import zipfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext

from core.runtime import runtime

SCHEMA = "https://developer.microsoft.com/en-us/json-schemas/teams/v1.17/MicrosoftTeams.schema.json"
ACCENT = (0x2E, 0x6B, 0x5E)  # a calm green; the color icon is this, the outline white


def build_manifest(app_id: str, public_url: str, name: str = "PeerLine") -> dict[str, Any]:
    """A personal-scope bot: 1:1 chats only, so nobody's request shows in a team channel."""
    host = urlsplit(public_url).hostname or ""
    return {
        "$schema": SCHEMA,
        "manifestVersion": "1.17",
        "version": "1.0.0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"peerline-teams:{app_id}")),
        "developer": {
            "name": name,
            "websiteUrl": public_url,
            "privacyUrl": f"{public_url}/privacy",
            "termsOfUseUrl": f"{public_url}/terms",
        },
        "name": {"short": name, "full": f"{name}: talk to a trained peer"},
        "description": {
            "short": "Ask a trained colleague for a confidential peer chat.",
            "full": "Ask a trained peer supporter for a confidential chat, now or at a booked "
            "time. Supporters see an alias, never your name. Not a crisis service.",
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal"],
                "supportsFiles": False,
                "isNotificationOnly": False,
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [host] if host else [],
    }


def png(size: int, rgba: tuple[int, int, int, int]) -> bytes:
    """A solid square PNG, written by hand so no imaging library is needed."""
    row = b"\x00" + bytes(rgba) * size
    raw = zlib.compress(row * size, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def package(app_id: str, public_url: str) -> bytes:
    """The zip Teams admins upload: manifest.json, a 192 px color icon, a 32 px outline."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(build_manifest(app_id, public_url), indent=2))
        archive.writestr("color.png", png(192, (*ACCENT, 255)))
        archive.writestr("outline.png", png(32, (255, 255, 255, 255)))
    return buffer.getvalue()


@click.group("teams")
def teams_group() -> None:
    """Microsoft Teams: the app package."""


@teams_group.command("manifest")
@click.option("--app-id", help="The bot's Microsoft app id (default TEAMS_APP_ID)")
@click.option("--url", help="The public https URL of PeerLine (default PEERLINE_PUBLIC_URL)")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default="peerline-teams.zip",
    show_default=True,
)
@with_appcontext
def manifest_command(app_id: str | None, url: str | None, output: Path) -> None:
    """Write the Teams app package to upload in Teams admin (Manage apps → Upload)."""
    from integrations.teams.settings import load_teams_settings

    app_id = app_id or load_teams_settings().app_id
    url = (url or runtime(current_app).settings.public_url or "").rstrip("/")
    if not app_id:
        raise click.UsageError("give --app-id or set TEAMS_APP_ID")
    if not url.startswith("https://"):
        raise click.UsageError(
            "give --url https://… or set PEERLINE_PUBLIC_URL (Teams needs https)"
        )
    output.write_bytes(package(app_id, url))
    click.echo(f"Teams app package written to {output}")
