"""Console pages: integrations (being built)."""

from __future__ import annotations

from flask import Blueprint


def register(bp: Blueprint) -> None:
    """Add this area's pages to the console blueprint (and core.console.session.section)."""
