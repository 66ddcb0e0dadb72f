"""Notification channels the core ships itself (e-mail), beside those plugins add."""
