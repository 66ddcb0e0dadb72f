"""Schema migrations: Alembic driven from code, so no alembic.ini ships."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(engine: Engine) -> Config:
    """A Config whose env.py migrates through ``engine`` (see env.py)."""
    config = Config()
    # ConfigParser interpolates '%', which a checkout path may contain.
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def autogenerate_revision(engine: Engine, message: str, rev_id: str) -> None:
    """Write versions/<rev_id>_<message>.py from the models' difference to a scratch database."""
    config = alembic_config(engine)
    for hook, options in (("fix", "check --fix"), ("format", "format")):
        config.set_section_option("post_write_hooks", f"ruff_{hook}.type", "module")
        config.set_section_option("post_write_hooks", f"ruff_{hook}.module", "ruff")
        config.set_section_option(
            "post_write_hooks", f"ruff_{hook}.options", f"{options} REVISION_SCRIPT_FILENAME"
        )
    config.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
    command.upgrade(config, "head")
    command.revision(config, message=message, autogenerate=True, rev_id=rev_id)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@cache
def _heads() -> tuple[str, ...]:
    """The scripts ship with the code, so read them once, not on every readiness probe."""
    return tuple(ScriptDirectory(str(SCRIPT_LOCATION)).get_heads())


def is_up_to_date(engine: Engine) -> bool:
    heads = _heads()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == set(heads)
