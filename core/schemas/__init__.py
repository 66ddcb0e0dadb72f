"""Pydantic models: they validate every request and write the OpenAPI document."""
