"""Fakes for tests: real servers on loopback (SMTP) and recording notification channels."""
