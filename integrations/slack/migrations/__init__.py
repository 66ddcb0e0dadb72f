"""Alembic revisions of the Slack plugin's tables, on the `slack` branch."""
