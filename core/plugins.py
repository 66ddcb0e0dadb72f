"""Plugins: found through the `peerline.plugins` entry-point group, wired in through one hook."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, TypeVar

import click
from flask import Blueprint

from core.events import DomainEvent
from core.notify.outbox import outbox_of
from core.notify.router import ExtraRoute
from core.ports import CalendarWriter, NotificationChannel, SignInMethod

if TYPE_CHECKING:
    from flask import Flask

    from core.runtime import Runtime
    from core.services.access import Ctx

ENTRY_POINT_GROUP = "peerline.plugins"
log = logging.getLogger(__name__)

E = TypeVar("E", bound=DomainEvent)


@dataclass
class PluginHost:
    """What a plugin's hook receives: the ways to extend PeerLine."""

    app: Flask
    runtime: Runtime

    def add_blueprint(self, blueprint: Blueprint, **options: Any) -> None:
        self.app.register_blueprint(blueprint, **options)

    def add_command(self, command: click.Command) -> None:
        self.app.cli.add_command(command)

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        self.runtime.bus.subscribe(event_type, handler)

    def add_channel(self, channel: NotificationChannel) -> None:
        self.runtime.add_channel(channel)

    def add_route(self, route: ExtraRoute) -> None:
        """Decide the plugin's own notifications for domain events, in the same transaction.

        They are durable, retried and sent once like the core's; pin them to the plugin's
        channel with data["via"] (core.notify.kinds.VIA).
        """
        outbox_of(self.runtime.session_factory).routes.append(route)

    def add_timer(self, name: str, step: Callable[[Ctx], int]) -> None:
        """Periodic work on the worker's tick: `step` gets a system unit of work, says how many."""
        assert self.runtime.jobs is not None, "create_app sets up the job queue before plugins"
        self.runtime.jobs.plugin_steps.append((name, step))

    def add_sign_in(self, method: SignInMethod) -> None:
        """A single sign-on button on the console's sign-in page."""
        self.runtime.sign_in_methods[method.name] = method

    def set_calendar_writer(self, writer: CalendarWriter) -> None:
        """The one module that writes calendar files; e-mail and chat invites use it."""
        self.runtime.calendar = writer


PluginHook = Callable[[PluginHost], None]


def discover() -> list[tuple[str, PluginHook]]:
    """Installed plugins; one whose optional dependencies are missing is skipped, loudly."""
    found: list[tuple[str, PluginHook]] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.append((entry.name, entry.load()))
        except ImportError as exc:
            log.warning("plugin %s not loaded (missing dependency: %s)", entry.name, exc.name)
    return found


def install(host: PluginHost, plugins: Iterable[tuple[str, PluginHook]]) -> None:
    for name, hook in plugins:
        hook(host)
        host.runtime.plugins.append(name)
