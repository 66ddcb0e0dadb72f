"""PeerLine core: roster, availability, anonymous requests, matching and booking."""

from core.app import create_app

__all__ = ["create_app"]
