"""Outbound messages: which notifications an event causes, and their durable delivery."""
