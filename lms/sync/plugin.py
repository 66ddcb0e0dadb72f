"""Wiring the calendar sync into the LMS plugin: Canvas and Moodle, each off unless configured."""

from __future__ import annotations

import logging
from datetime import timedelta

import requests

from core.plugins import PluginHost
from lms.sync import canvas_channels
from lms.sync.canvas import CanvasSync
from lms.sync.canvas_channels import InboxChannel, ReservationChannel
from lms.sync.canvas_client import CanvasClient
from lms.sync.canvas_tokens import CanvasConnections, CanvasOAuth, CanvasTokens
from lms.sync.canvas_web import blueprint
from lms.sync.moodle import MoodleChannel, MoodleRoute
from lms.sync.moodle_client import MoodleClient
from lms.sync.settings import SyncSettings, load_sync_settings

log = logging.getLogger(__name__)
CANVAS_SCOPES = (
    "url:GET|/api/v1/appointment_groups",
    "url:POST|/api/v1/appointment_groups",
    "url:GET|/api/v1/appointment_groups/:id",
    "url:PUT|/api/v1/appointment_groups/:id",
    "url:DELETE|/api/v1/calendar_events/:id",
    "url:POST|/api/v1/conversations",
)
"""What the developer key must allow (when it enforces scopes), and what PeerLine asks for."""


def init_sync(host: PluginHost) -> None:
    """A bad LMS_CANVAS_* or LMS_MOODLE_* raises ConfigError here, naming the variable."""
    add_calendar_sync(host, load_sync_settings())


def add_calendar_sync(
    host: PluginHost, settings: SyncSettings, http: requests.Session | None = None
) -> None:
    """`http` lets tests reach loopback fakes over TLS with their own CA."""
    if settings.canvas:
        _add_canvas(host, settings, http)
    else:
        log.debug("Canvas sync is off: LMS_CANVAS_URL, _CLIENT_ID, _CLIENT_SECRET, _COURSE unset")
    if settings.moodle:
        _add_moodle(host, settings, http)


def _add_canvas(host: PluginHost, settings: SyncSettings, http: requests.Session | None) -> None:
    assert settings.canvas_url and settings.canvas_client_id and settings.canvas_course
    assert settings.canvas_client_secret is not None
    oauth = CanvasOAuth(
        base_url=settings.canvas_url,
        client_id=settings.canvas_client_id,
        client_secret=settings.canvas_client_secret.get_secret_value(),
        scopes=CANVAS_SCOPES,
        session=http,
    )
    connections = CanvasConnections(host.runtime)
    tokens = CanvasTokens(oauth, connections, host.runtime)
    client = CanvasClient(base_url=settings.canvas_url, tokens=tokens, session=http)
    host.add_blueprint(blueprint(host.runtime, settings, tokens))
    host.add_channel(ReservationChannel(client))
    host.add_channel(InboxChannel(host.runtime, client, course=settings.canvas_course))
    host.add_route(canvas_channels.route)
    every = timedelta(minutes=settings.canvas_poll_minutes)
    sync = CanvasSync(host.runtime, settings, client, connections, every=every)
    host.add_timer("canvas calendar", sync.step)


def _add_moodle(host: PluginHost, settings: SyncSettings, http: requests.Session | None) -> None:
    assert settings.moodle_url and settings.moodle_token is not None
    moodle = MoodleClient(
        base_url=settings.moodle_url,
        token=settings.moodle_token.get_secret_value(),
        session=http,
    )
    host.add_channel(MoodleChannel(host.runtime, moodle))
    host.add_route(MoodleRoute(host.runtime, settings))
