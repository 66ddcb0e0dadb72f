"""Alembic revisions of the lti tables (their own branch)."""
