"""An upgrade interrupted half way leaves the database as it was, so the next start succeeds.

Found by `make dev`'s Ctrl-C test: interrupted during its first start, SQLite kept the tables
created so far without a stamped revision, and every later start failed with "already exists".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, event

from core.base.migrate import upgrade


class Interrupted(Exception):
    pass


def test_an_interrupted_sqlite_upgrade_can_be_run_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tally.db'}"
    created: list[str] = []

    def interrupt_third_table(_conn: Any, _cursor: Any, query: str, *_: Any) -> None:
        if query.lstrip().upper().startswith("CREATE TABLE"):
            created.append(query)
            if len(created) == 3:
                raise Interrupted

    event.listen(Engine, "before_cursor_execute", interrupt_third_table)
    try:
        with pytest.raises(Interrupted):
            upgrade(url)
    finally:
        event.remove(Engine, "before_cursor_execute", interrupt_third_table)
    engine = sa.create_engine(url)
    assert sa.inspect(engine).get_table_names() == []  # nothing half-made survived
    engine.dispose()
    upgrade(url)
    engine = sa.create_engine(url)
    assert "users" in sa.inspect(engine).get_table_names()
    engine.dispose()
