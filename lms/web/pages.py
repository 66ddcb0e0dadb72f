"""Rendering: every page names the program and carries the notice and the crisis resources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Response, render_template

from core.notify.wording import mode_name
from core.schemas.programs import NOT_A_CRISIS_SERVICE, CrisisResourceOut, IntakeOut
from core.services.programs import DEFAULT_CRISIS_RESOURCES

# (name in the language itself, name in English) for the languages programs offer most
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("English", "English"),
    "es": ("Español", "Spanish"),
    "fr": ("Français", "French"),
    "de": ("Deutsch", "German"),
    "it": ("Italiano", "Italian"),
    "pt": ("Português", "Portuguese"),
    "nl": ("Nederlands", "Dutch"),
    "pl": ("Polski", "Polish"),
    "uk": ("Українська", "Ukrainian"),
    "ar": ("العربية", "Arabic"),
    "zh": ("中文", "Chinese"),
    "hi": ("हिन्दी", "Hindi"),
    "ja": ("日本語", "Japanese"),
    "ko": ("한국어", "Korean"),
    "tr": ("Türkçe", "Turkish"),
    "vi": ("Tiếng Việt", "Vietnamese"),
}

TAKEN = "That time was just taken — choose another."
PASSED = "That time has passed — choose another."
NOT_LISTED = "That time is not one of those offered — choose one from the list."
SESSION_ENDED = "Your session has ended"
OPEN_AGAIN = (
    "Open PeerLine again from your course. For your privacy, a page opened from your course "
    "works for two hours; nothing you chose was stored."
)


@dataclass(frozen=True)
class Resource:
    name: str
    contact: str
    description: str
    url: str | None
    site: str  # the link's text: the web address without its scheme


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    native: str | None = None  # a language's own name, marked with its `lang`


class Problem(Exception):
    """A page that ends the request here (session ended, link unknown, cross-site form)."""

    def __init__(
        self, status: int, title: str, message: str, intake: IntakeOut | None = None
    ) -> None:
        super().__init__(title)
        self.status, self.title, self.message, self.intake = status, title, message, intake


def session_ended() -> Problem:
    return Problem(401, SESSION_ENDED, OPEN_AGAIN)


def page(template: str, status: int = 200, *, intake: IntakeOut | None, **context: Any) -> Response:
    """A full page; without a program (an unreadable session), the general crisis resources."""
    listed = (
        intake.crisis_resources
        if intake is not None
        else [CrisisResourceOut(**r) for r in DEFAULT_CRISIS_RESOURCES]
    )
    html = render_template(
        template,
        program_name=intake.name if intake is not None else "PeerLine",
        notice=intake.notice if intake is not None else NOT_A_CRISIS_SERVICE,
        resources=[_resource(r) for r in listed],
        **context,
    )
    return Response(html, status, mimetype="text/html")


def problem_page(problem: Problem) -> Response:
    return page(
        "booking_problem.html",
        problem.status,
        intake=problem.intake,
        title=problem.title,
        message=problem.message,
    )


def _resource(resource: CrisisResourceOut) -> Resource:
    site = None
    if resource.url:
        parts = urlsplit(resource.url)
        site = (parts.netloc + parts.path).removeprefix("www.").rstrip("/")
    return Resource(resource.name, resource.contact, resource.description, resource.url, site or "")


def topic_options(topics: list[str]) -> list[Option]:
    return [Option(t, t.replace("-", " ").replace("_", " ").capitalize()) for t in topics]


def mode_options(modes: list[str]) -> list[Option]:
    return [Option(m, mode_label(m)) for m in modes]


def mode_label(mode: str) -> str:
    return mode_name(mode).capitalize()


def language_options(languages: list[str]) -> list[Option]:
    return [language_option(code) for code in languages]


def language_option(code: str) -> Option:
    native, english = LANGUAGES.get(code.split("-")[0], (None, code))
    if native is None or native == english:
        return Option(code, english)
    return Option(code, f"({english})", native=native)


def sentence(message: str) -> str:
    """A core message ('changes close …') as a sentence on a page."""
    text = message[:1].upper() + message[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
