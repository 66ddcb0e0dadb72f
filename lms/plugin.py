"""The LMS plugin's hook: calendar files now; LTI launch and calendar sync in the LMS issue."""

from __future__ import annotations

from core.plugins import PluginHost
from lms import console_panel
from lms.calendar import IcsCalendarWriter
from lms.feeds.web import init_app as init_feeds
from lms.lti import hook as lti_hook
from lms.sync.plugin import init_sync
from lms.web import init_app as init_booking_page


def init_app(host: PluginHost) -> None:
    host.set_calendar_writer(IcsCalendarWriter())
    init_feeds(host)
    lti_hook.init_app(host)  # LTI 1.3 under /lti and `peerline lti`
    init_booking_page(host)  # the student booking page under /lms/book and /lms/my
    console_panel.register(host)  # LTI and sync details on the console's Integrations page
    init_sync(host)  # Canvas and Moodle calendar sync, each off unless LMS_CANVAS_*/LMS_MOODLE_*
