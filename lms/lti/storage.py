"""The LTI tables: platforms, deployments, used nonces, the tool's keys (branch `lms_lti`).

Found by the core's migrations through the `peerline.schemas` entry point.
"""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
