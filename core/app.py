"""The application factory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from core import events
from core.calendar_watch import watch_for
from core.channels.email import EmailChannel
from core.clock import Clock, OffsetFileClock
from core.config import Settings, embedded_secrets, load_settings
from core.crypto import IdentityCipher
from core.db import make_engine, make_session_factory
from core.events import EventBus, bind_to_sessions
from core.jobs import Jobs, make_huey
from core.notify.outbox import Outbox
from core.notify.outbox import bind_to_sessions as bind_outbox
from core.plugins import PluginHook, PluginHost, discover, install
from core.runtime import Runtime, close_db_session
from core.services import chats

MAX_BODY_BYTES = 256 * 1024


def create_app(
    settings: dict[str, Any] | None = None,
    *,
    clock: Clock | None = None,
    plugins: list[tuple[str, PluginHook]] | None = None,
) -> Flask:
    """Build the app; `settings` overrides PEERLINE_* variables (tests), `plugins` the discovery."""
    config = load_settings(settings)
    app = Flask("core", instance_path=_instance_path(config))
    config = _with_embedded_defaults(config, Path(app.instance_path))
    assert config.secret_key is not None and config.database_url is not None
    app.config.update(
        SECRET_KEY=config.secret_key.get_secret_value(),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.env == "production",
    )
    logging.getLogger("core").setLevel(config.log_level)
    if config.trust_proxy_hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=config.trust_proxy_hops,
            x_proto=config.trust_proxy_hops,
            x_host=config.trust_proxy_hops,
        )
    engine = make_engine(config.database_url)
    bus, outbox = EventBus(), Outbox()
    bind_to_sessions()
    bind_outbox()
    current = Runtime(
        settings=config,
        engine=engine,
        session_factory=make_session_factory(engine, info={"bus": bus, "outbox": outbox}),
        clock=clock or _clock(config),
        bus=bus,
        cipher=IdentityCipher(config.fernet_keys, config.secret_key.get_secret_value()),
    )
    current.calendar_watch = watch_for(engine)
    app.extensions["peerline"] = current
    current.jobs = Jobs(current, make_huey(config.redis_url, Path(app.instance_path)))
    outbox.after_commit = current.jobs.after_commit
    if config.smtp_url is not None or config.mail_folder is not None:
        current.add_channel(EmailChannel(current))
    app.teardown_appcontext(close_db_session)
    _register_core(app)
    install(PluginHost(app, app.extensions["peerline"]), discover() if plugins is None else plugins)
    bus.subscribe(events.OfferAccepted, chats.start_on_acceptance(current))
    return app


def _clock(config: Settings) -> Clock:
    if config.env == "testing" and config.test_clock_file is not None:
        return OffsetFileClock(config.test_clock_file)
    return Clock()


def _instance_path(config: Settings) -> str:
    if config.instance_path is not None:
        return str(config.instance_path.resolve())
    return str(Path.cwd() / "instance")


def _with_embedded_defaults(config: Settings, instance: Path) -> Settings:
    """Development and tests run with nothing set: a SQLite file and keys in the instance folder."""
    updates: dict[str, Any] = {}
    if config.database_url is None:
        instance.mkdir(parents=True, exist_ok=True)
        updates["database_url"] = f"sqlite:///{instance / 'peerline.sqlite3'}"
    if config.secret_key is None or config.encryption_keys is None:
        generated = embedded_secrets(instance)
        if config.secret_key is None:
            updates["secret_key"] = generated["secret_key"]
        if config.encryption_keys is None:
            updates["encryption_keys"] = generated["encryption_keys"]
    if not updates:
        return config
    return Settings(**{**config.model_dump(exclude_none=True), **_unwrap(config), **updates})


def _unwrap(config: Settings) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in ("secret_key", "encryption_keys"):
        secret = getattr(config, name)
        if secret is not None:
            values[name] = secret.get_secret_value()
    return values


def _register_core(app: Flask) -> None:
    from core.api import init_app as init_api  # the API imports models; keep start-up order clear
    from core.cli import init_app as init_cli
    from core.console import init_app as init_console
    from core.limits import init_app as init_limits

    init_api(app)
    init_cli(app)
    init_console(app)
    init_limits(app)  # after the core's views, before plugins, which may `protect` theirs
