"""The LTI tool's part of the LMS plugin: its blueprint under /lti and the `lti` commands."""

from __future__ import annotations

import requests

from core import limits
from core.plugins import PluginHost
from lms.lti.cli import lti_group
from lms.lti.views import LtiTool, blueprint


def init_app(host: PluginHost, *, http: requests.Session | None = None) -> None:
    """`http` is the session for platform calls (tests pass one trusting their CA)."""
    host.add_command(lti_group)
    host.add_blueprint(blueprint(LtiTool.create(host.runtime, http or requests.Session())))
    limits.protect(host.app, "lti.login", "lti")
    limits.protect(host.app, "lti.launch", "lti")
