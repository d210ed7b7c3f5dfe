"""Bookmarks are opaque and may be long: a Graph delta link, an Apple version id.

Runs against SQLite and a real PostgreSQL, which enforces a column's length; an older store
whose bookmark column is VARCHAR(256) is widened when the hub opens it, keeping its rows.
"""

from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.store import StateStore

#: Longer than the old column, like the delta links Graph hands out.
LONG_LINK = "https://graph.microsoft.com/v1.0/education/classes/delta?$deltatoken=" + "x" * 1900


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


def test_a_long_bookmark_is_kept_whole(store_url: str):
    store = StateStore(store_url)
    try:
        store.save_bookmarks("t", "graph_education", {"deltaLink": LONG_LINK})
        assert store.bookmarks("t", "graph_education") == {"deltaLink": LONG_LINK}
    finally:
        store.close()


def test_an_older_postgresql_store_is_widened_and_keeps_its_bookmarks(fresh_postgres_url: str):
    engine = sa.create_engine(fresh_postgres_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "create table source_bookmarks (tenant varchar(64), source varchar(64),"
                " stream varchar(64), value varchar(256) not null,"
                " updated_at timestamptz not null, primary key (tenant, source, stream))"
            )
        )
        conn.execute(
            sa.text(
                "insert into source_bookmarks values"
                " ('t', 'feide', 'people', '20261201000000Z', now())"
            )
        )
        with pytest.raises(sa.exc.DataError):  # the old column refuses a long value
            with conn.begin_nested():
                conn.execute(sa.text("update source_bookmarks set value = :v"), {"v": LONG_LINK})
    engine.dispose()

    store = StateStore(fresh_postgres_url)
    try:
        assert store.bookmarks("t", "feide") == {"people": "20261201000000Z"}
        store.save_bookmarks("t", "graph_education", {"deltaLink": LONG_LINK})
        assert store.bookmarks("t", "graph_education") == {"deltaLink": LONG_LINK}
    finally:
        store.close()
    StateStore(fresh_postgres_url).close()  # a second open finds TEXT and changes nothing
