"""Alembic revisions of the sync tables (their own branch)."""
