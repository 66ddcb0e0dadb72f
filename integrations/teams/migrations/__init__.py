"""Alembic revisions of the Teams plugin's tables, on the `teams` branch."""
