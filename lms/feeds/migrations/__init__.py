"""Alembic revisions of the feeds tables (their own branch)."""
