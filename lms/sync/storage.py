"""The sync tables: Canvas and Moodle connections and what was pushed where (branch `lms_sync`).

Found by the core's migrations through the `peerline.schemas` entry point.
"""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
