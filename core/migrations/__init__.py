"""Schema migrations: Alembic driven from code, so no alembic.ini ships."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData

SCRIPT_LOCATION = Path(__file__).resolve().parent
SCHEMA_ENTRY_POINTS = "peerline.schemas"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PluginSchema:
    """A plugin's own tables: its `metadata`, and a folder of Alembic revisions on a branch."""

    name: str
    metadata: MetaData
    versions: Path


@cache
def plugin_schemas() -> tuple[PluginSchema, ...]:
    """Plugins' schemas, from the `peerline.schemas` entry points (modules with `metadata`)."""
    found = []
    for entry in entry_points(group=SCHEMA_ENTRY_POINTS):
        try:
            module = entry.load()
        except ImportError as exc:
            log.warning("schema of plugin %s not loaded (missing: %s)", entry.name, exc.name)
            continue
        versions = Path(module.__file__).resolve().parent / "migrations"
        found.append(PluginSchema(entry.name, module.metadata, versions))
    return tuple(sorted(found, key=lambda schema: schema.name))


def _version_locations() -> str:
    folders = [SCRIPT_LOCATION / "versions", *(s.versions for s in plugin_schemas())]
    return os.pathsep.join(str(f).replace("%", "%%") for f in folders)


def alembic_config(engine: Engine) -> Config:
    """A Config whose env.py migrates through ``engine`` (see env.py)."""
    config = Config()
    # ConfigParser interpolates '%', which a checkout path may contain.
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.set_main_option("version_locations", _version_locations())
    config.attributes["connection"] = engine
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def autogenerate_revision(
    engine: Engine, message: str, rev_id: str, *, plugin: str | None = None
) -> None:
    """Write <rev_id>_<message>.py from the models' difference to a scratch database.

    With `plugin`, the revision goes on that plugin's branch, in its own folder.
    """
    config = alembic_config(engine)
    for hook, options in (("fix", "check --fix"), ("format", "format")):
        config.set_section_option("post_write_hooks", f"ruff_{hook}.type", "module")
        config.set_section_option("post_write_hooks", f"ruff_{hook}.module", "ruff")
        config.set_section_option(
            "post_write_hooks", f"ruff_{hook}.options", f"{options} REVISION_SCRIPT_FILENAME"
        )
    config.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
    command.upgrade(config, "heads")
    if plugin is None:
        command.revision(
            config, message=message, autogenerate=True, rev_id=rev_id, head="core@head"
        )
        return
    schema = next(s for s in plugin_schemas() if s.name == plugin)
    script = ScriptDirectory.from_config(config)
    started = any(plugin in (r.branch_labels or ()) for r in script.walk_revisions())
    command.revision(
        config,
        message=message,
        autogenerate=True,
        rev_id=rev_id,
        head=f"{plugin}@head" if started else "base",
        branch_label=None if started else plugin,
        version_path=str(schema.versions),
    )


def current_revisions(engine: Engine) -> set[str]:
    """Where the database is: one revision per branch (the core's and each plugin's)."""
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def heads() -> set[str]:
    """The newest revision of every branch that ships with the code."""
    return set(_heads())


@cache
def _heads() -> tuple[str, ...]:
    """The scripts ship with the code, so read them once, not on every readiness probe."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", _version_locations())
    return tuple(ScriptDirectory.from_config(config).get_heads())


def is_up_to_date(engine: Engine) -> bool:
    heads = _heads()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == set(heads)
