"""The LMS plugin's hook: calendar files now; LTI launch and calendar sync in the LMS issue."""

from __future__ import annotations

from core.plugins import PluginHost
from lms.calendar import IcsCalendarWriter
from lms.feeds.web import init_app as init_feeds
from lms.sync.plugin import init_sync


def init_app(host: PluginHost) -> None:
    host.set_calendar_writer(IcsCalendarWriter())
    init_feeds(host)
    init_sync(host)  # Canvas and Moodle calendar sync, each off unless LMS_CANVAS_*/LMS_MOODLE_*
