"""The LMS plugin's hook: calendar files and feeds; LTI launch, booking page and sync follow."""

from __future__ import annotations

from core.plugins import PluginHost
from lms.calendar import IcsCalendarWriter
from lms.feeds.web import init_app as init_feeds


def init_app(host: PluginHost) -> None:
    host.set_calendar_writer(IcsCalendarWriter())
    init_feeds(host)
