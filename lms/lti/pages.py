"""The few HTML pages the LTI tool shows: the error page, the Deep Linking hand-back, and the
"registered" page that closes the LMS's registration dialog.

They run inside an LMS iframe, so the sites of the registered LMS platforms may frame them
(`frame_ancestors`; browsers obey it and the core then adds no `X-Frame-Options: DENY`), and
no other site. Scripts run only with the page's nonce.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from functools import cache
from urllib.parse import urlsplit

from flask import Response, render_template_string
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from core.runtime import runtime
from lms.lti.errors import RETRY, LtiRefused
from lms.lti.storage import PLATFORMS

log = logging.getLogger(__name__)
EXTRA_ANCESTORS = "LMS_FRAME_ANCESTORS"
"""More sites that frame PeerLine: an LMS on its own domain (canvas.school.edu), space-separated."""
CLOUD_TENANTS = {
    "instructure.com": "https://*.instructure.com",  # Canvas cloud: one issuer, a host per school
    "canvaslms.com": "https://*.instructure.com",
    "blackboard.com": "https://*.blackboard.com",
}
SOURCE = re.compile(
    r"https://(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:[0-9]{1,5})?"
    r"|https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?"
)

LAYOUT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style nonce="{{ nonce }}">
  body { font: 1.05rem/1.5 system-ui, sans-serif; color: #1b1b1b; background: #fff;
         margin: 0; padding: 1.5rem; }
  main { max-width: 36rem; margin: 0 auto; }
  h1 { font-size: 1.4rem; color: #174f45; }
  .note { border-left: 4px solid #2e6b5e; padding: 0.25rem 0 0.25rem 0.75rem; }
  button { font: inherit; padding: 0.5rem 1rem; }
</style>
</head>
<body>
<main>
<h1>{{ title }}</h1>
{{ body }}
</main>
</body>
</html>
"""

ERROR = """<p role="alert">{{ explanation }}</p>
<p>{{ retry }}</p>
<p class="note">PeerLine is not a crisis service. If you are in danger or need help right now,
call your local emergency number, or find a free helpline in your country at
<a href="https://findahelpline.com/">findahelpline.com</a>.</p>
"""

AUTO_POST = """<p>Adding the link to your course…</p>
<form method="post" action="{{ action }}">
  <input type="hidden" name="JWT" value="{{ jwt }}">
  <noscript><button type="submit">Continue</button></noscript>
</form>
<script nonce="{{ nonce }}">document.forms[0].submit();</script>
"""

REGISTERED = """<p>PeerLine is registered with your learning platform for the program
<strong>{{ program }}</strong>. You can close this window.</p>
<script nonce="{{ nonce }}">
  (window.opener || window.parent).postMessage({subject: "org.imsglobal.lti.close"}, "*");
</script>
"""


def error(
    refused: LtiRefused, *, title: str = "PeerLine could not open", retry: str = RETRY
) -> Response:
    """What went wrong in plain words, and the way back; never a trace or a token."""
    return _page(title, ERROR, refused.status, explanation=refused.explanation, retry=retry)


def auto_post(action: str, jwt: str) -> Response:
    """A form that posts the Deep Linking response back to the platform at once."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(action))
    return _page("Adding PeerLine", AUTO_POST, 200, form_action=origin, action=action, jwt=jwt)


def registered(program: str) -> Response:
    return _page("PeerLine is registered", REGISTERED, 200, program=program)


def frame_ancestors() -> str:
    """Who may frame the tool's pages: the registered platforms' sites, else nobody at all."""
    try:
        with runtime().engine.connect() as connection:
            query = select(PLATFORMS.c.issuer, PLATFORMS.c.auth_login_url)
            rows = connection.execute(query).all()
    except SQLAlchemyError:  # the page (often an error page) still goes out, framed by nobody
        log.warning("frame-ancestors: the LTI platforms could not be read")
        return "'none'"
    found = {source for row in rows for url in row for source in _sources(url)}
    found.update(_configured(os.environ.get(EXTRA_ANCESTORS, "")))
    return " ".join(sorted(found)) or "'none'"


def _sources(url: str) -> list[str]:
    """The URL's origin, and the cloud LMS's tenants' wildcard when it is one."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return []
    shown = f"[{host}]" if ":" in host else host
    origin = f"{parts.scheme}://{shown}" + (f":{parts.port}" if parts.port else "")
    found = [origin] if SOURCE.fullmatch(origin) else []
    for domain, tenants in CLOUD_TENANTS.items():
        if host == domain or host.endswith("." + domain):
            found.append(tenants)
    return found


@cache
def _configured(raw: str) -> tuple[str, ...]:
    """LMS_FRAME_ANCESTORS; an entry that is not an https origin is left out, said once."""
    found = []
    for entry in raw.replace(",", " ").split():
        source = entry.rstrip("/").lower()
        if SOURCE.fullmatch(source):
            found.append(source)
        else:
            log.warning("%s: left out an entry that is not an https origin", EXTRA_ANCESTORS)
    return tuple(found)


def _page(
    title: str, body: str, status: int, *, form_action: str = "'none'", **context: str
) -> Response:
    nonce = secrets.token_urlsafe(16)
    template = LAYOUT.replace("{{ body }}", body)  # our own constant templates, joined
    html = render_template_string(template, title=title, nonce=nonce, **context)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        f"form-action {form_action}; base-uri 'none'; frame-ancestors {frame_ancestors()}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
