"""An e-mail for each notification: the core's wording (core.notify.plain) as text and HTML.

E-mail sits in mailboxes and relays that retention cannot reach, so messages carry only
aliases, times and modes: never a topic, a note or anyone's address but the recipient's.
"""

from __future__ import annotations

import hashlib
import textwrap
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, parseaddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from core.notify.plain import Content, crisis_block, footer, render
from core.ports import Notification

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# 7bit: bodies go out quoted-printable or base64 when needed, so no relay must speak 8BITMIME
POLICY = default_policy.clone(cte_type="7bit")
_html = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)


def build_message(
    notification: Notification,
    *,
    sender: str,
    recipient: str,
    now: datetime,
    invite: bytes | None = None,
) -> EmailMessage:
    """The whole e-mail; an invite is a text/calendar alternative, as Outlook and Gmail expect."""
    content = render(notification, has_invite=invite is not None)
    message = EmailMessage(policy=POLICY)
    message["Subject"] = content.subject
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = message_id(notification.dedupe_key, sender)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to us
    message.set_content(text_body(notification, content))
    message.add_alternative(html_body(notification, content), subtype="html")
    if invite is not None:
        method = str(notification.data["method"])
        message.add_alternative(
            invite.decode("utf-8"), subtype="calendar", params={"method": method}
        )
    return message


def message_id(dedupe_key: str, sender: str) -> str:
    """The same notification always gets the same Message-ID, so a resend is recognisable."""
    digest = hashlib.sha256(f"peerline-email:{dedupe_key}".encode()).hexdigest()[:40]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "peerline.invalid"
    return f"<{digest}@{domain}>"


def text_body(notification: Notification, content: Content) -> str:
    """Plain text, wrapped for reading in any client; requesters always get the resources."""
    blocks = ["Hello,", *content.paragraphs]
    crisis = crisis_block(notification)
    if crisis is not None:
        resources = [_resource_lines(r) for r in crisis["resources"]]
        blocks += [crisis["not_a_crisis"], "\n".join(resources)]
    wrapped = [_wrap(block) for block in blocks]
    return "\n\n".join([*wrapped, "-- \n" + _wrap(footer(notification))]) + "\n"


def html_body(notification: Notification, content: Content) -> str:
    """HTML from one template with autoescape on, so nothing in `data` can inject markup."""
    return _html.get_template("email_message.html").render(
        lang=str(notification.data.get("locale", "en")),
        subject=content.subject,
        paragraphs=content.paragraphs,
        crisis=crisis_block(notification),
        footer=footer(notification),
    )


def _resource_lines(resource: dict[str, str]) -> str:
    lines = [f"- {resource['name']}: {resource['contact']}"]
    lines += [f"  {extra}" for extra in (resource["description"], resource["url"]) if extra]
    return "\n".join(lines)


def _wrap(block: str) -> str:
    """Wrap at 72 columns; list items keep their hanging indent, links are never broken."""
    return "\n".join(
        textwrap.fill(
            line,
            72,
            subsequent_indent="  " if line.startswith(("- ", "  ")) else "",
            break_long_words=False,
            break_on_hyphens=False,
        )
        for line in block.split("\n")
    )
