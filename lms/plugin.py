"""The LMS plugin's hook: calendar files now; LTI launch and calendar sync in the LMS issue."""

from __future__ import annotations

from core.plugins import PluginHost
from lms.calendar import IcsCalendarWriter


def init_app(host: PluginHost) -> None:
    host.set_calendar_writer(IcsCalendarWriter())
