"""The feed tables: private feed tokens, revocable (branch `lms_feeds`).

Found by the core's migrations through the `peerline.schemas` entry point.
"""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
