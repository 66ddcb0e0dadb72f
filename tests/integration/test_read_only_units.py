"""Units of work that only read: on SQLite they neither wait for nor hold up the writer."""

from __future__ import annotations

import threading

from sqlalchemy import event, select, text

from core.models import Program
from core.runtime import runtime
from tests.conftest import make_app
from tests.helpers import make_world


def test_a_reader_reads_while_a_writer_holds_sqlites_write_lock(tmp_path, clock):
    app = make_app(f"sqlite:///{tmp_path / 'test.sqlite3'}", tmp_path, clock)
    make_world(app, app.test_client())
    current = runtime(app)
    begun: list[str] = []
    event.listen(
        current.engine,
        "before_cursor_execute",
        lambda *args: begun.append(args[2]) if args[2].startswith("BEGIN") else None,
    )
    read: list[str] = []

    def reader() -> None:
        ctx = current.system_ctx(read_only=True)
        with ctx.session:
            read.append(ctx.session.scalars(select(Program.slug)).one())

    with current.engine.connect() as writer:  # BEGIN IMMEDIATE: the write lock, held
        writer.execute(text("UPDATE programs SET name = 'Renamed'"))
        thread = threading.Thread(target=reader)
        thread.start()
        thread.join(timeout=10)  # a writer's BEGIN IMMEDIATE would wait 30 s for the lock
        assert not thread.is_alive() and read == ["acme"], "read at once, the lock still held"
        writer.commit()
    assert begun == ["BEGIN IMMEDIATE", "BEGIN"], "the writer locks, the reader does not"
    ctx = current.system_ctx()
    with ctx.session:
        assert ctx.session.scalars(select(Program.name)).one() == "Renamed"
    assert begun[-1] == "BEGIN IMMEDIATE", "units of work write-lock unless told they only read"
    current.engine.dispose()
