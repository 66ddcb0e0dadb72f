"""Spotting crisis language in a requester's own words, so resources show at once."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources


def normalise(text: str) -> str:
    """Lower-case, strip accents, unify apostrophes and collapse whitespace."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return re.sub(r"[\s\-_]+", " ", plain).strip()


@lru_cache(maxsize=32)
def default_phrases(locale: str) -> tuple[str, ...]:
    """The built-in list for a locale's language, falling back to English."""
    language = locale.split("-")[0].split("_")[0].lower()
    folder = resources.files("core.domain") / "crisis_phrases"
    chosen = folder / f"{language}.txt"
    if not chosen.is_file():
        chosen = folder / "en.txt"
    lines = chosen.read_text(encoding="utf-8").splitlines()
    return tuple(normalise(x) for x in lines if x.strip() and not x.lstrip().startswith("#"))


@lru_cache(maxsize=256)
def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = sorted({re.escape(p) for p in phrases if p}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


def contains_crisis_language(text: str | None, locale: str, extra: Iterable[str] = ()) -> bool:
    """True when the text holds a phrase from the locale's list (English always included)."""
    if not text:
        return False
    phrases = default_phrases(locale) + default_phrases("en") + tuple(normalise(p) for p in extra)
    return _pattern(tuple(sorted(set(phrases)))).search(normalise(text)) is not None
