"""Alembic revisions, one module each; see core.migrations."""
