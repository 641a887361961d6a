"""A load into an empty ledger without the key index (``ingest/keyed.py``).

It must leave exactly the ledger the upserts leave (ids, change log and data
version included), never store a key twice, and hand over to upserts as soon
as anyone else writes; a killed load leaves a ledger whose index builds.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.event_rows import events, price
from tmuxtok.ingest import keyed, packed
from tmuxtok.ingest.batch import merge_rows
from tmuxtok.ingest.ledger import BULK_CACHE_KIB, KEYED_CACHE_KIB, Ledger
from tmuxtok.ingest.schema import KEY_INDEX, ensure_key_index, key_index
from tmuxtok.ingest.tail import Cursor
from tmuxtok.model.events import UsageEvent

needs_c = pytest.mark.skipif(packed.native() is None, reason="the row packer is not built here")
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


def _ev(key: str, total: int, ts: int = 1_700_000_000_000, speed: str = "") -> UsageEvent:
    return UsageEvent(
        agent="claude", key=key, ts_ms=ts, model="gpt-5", input_tokens=total, output_tokens=0,
        total_tokens=total, session_id="s", project="/p", speed=speed,
    )  # fmt: skip


def _commit(ledger: Ledger, n: int, evs: list[UsageEvent], fp: str = "t") -> None:
    rows = packed.pack(merge_rows(evs, price))
    cur = Cursor(f"/logs/f{n}.jsonl", "claude", offset=n, size=n)
    ledger.commit_rows([(cur, rows, {}, False)], price_fp=fp)


def _dump(ledger: Ledger) -> tuple[list[Any], ...]:
    return tuple(
        ledger.conn.execute(q).fetchall()
        for q in (
            "SELECT * FROM events ORDER BY id",
            "SELECT * FROM changes ORDER BY seq",
            "SELECT k, v FROM meta ORDER BY k",
        )
    )


def _cache_kib(ledger: Ledger) -> int:
    """SQLite's page cache of ``ledger``'s connection, in KiB (a negative setting is KiB)."""
    size = int(ledger.conn.execute("PRAGMA cache_size").fetchone()[0])
    return (
        -size
        if size < 0
        else size * int(ledger.conn.execute("PRAGMA page_size").fetchone()[0]) // 1024
    )


def _no_keyed_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyed.KeyedLoad, "start", classmethod(lambda cls, conn: None))


def _load(path: Path, reads: list[tuple[str, list[UsageEvent]]]) -> tuple[list[Any], ...]:
    ledger = Ledger(path)
    with ledger.bulk():
        for n, (fp, evs) in enumerate(reads):
            _commit(ledger, n, evs, fp)
    assert key_index(ledger.conn) == KEY_INDEX
    out = _dump(ledger)
    ledger.close()
    return out


@needs_c
@SETTINGS
@given(st.lists(st.tuples(st.sampled_from("tu"), st.lists(events, max_size=6)), min_size=1))
def test_a_keyed_load_leaves_the_ledger_the_upserts_leave(
    tmp_path_factory: pytest.TempPathFactory, reads: list[tuple[str, list[UsageEvent]]]
) -> None:
    """Keys seen again in later reads and batches (the rank rule, speeds, prices
    recorded under another table), with ids, change log and data version."""
    d = tmp_path_factory.mktemp("ledgers")
    got = _load(d / "keyed.sqlite3", reads)
    with pytest.MonkeyPatch.context() as mp:
        _no_keyed_load(mp)
        want = _load(d / "upserted.sqlite3", reads)
    assert got == want


@needs_c
def test_the_load_runs_without_the_index_and_builds_it_at_its_end(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    assert key_index(ledger.conn) == KEY_INDEX
    before = _cache_kib(ledger)
    with ledger.bulk():
        _commit(ledger, 0, [_ev("a", 5), _ev("b", 5)])
        assert key_index(ledger.conn) is None  # the load is keyed: the upserts' index is gone
        assert _cache_kib(ledger) == KEYED_CACHE_KIB  # no index pages to keep at hand
        _commit(ledger, 1, [_ev("a", 9), _ev("c", 1)])
    assert key_index(ledger.conn) == KEY_INDEX
    assert _cache_kib(ledger) == before
    rows = ledger.conn.execute("SELECT key, total FROM events ORDER BY id").fetchall()
    assert rows == [("a", 9), ("b", 5), ("c", 1)]


@needs_c
def test_a_ledger_with_events_is_loaded_with_upserts(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    _commit(ledger, 0, [_ev("a", 5)])
    with ledger.bulk():
        _commit(ledger, 1, [_ev("a", 9), _ev("b", 1)])
        assert key_index(ledger.conn) == KEY_INDEX
        assert _cache_kib(ledger) == BULK_CACHE_KIB  # upserts descend the index
    assert ledger.conn.execute("SELECT key, total FROM events ORDER BY id").fetchall() == [
        ("a", 9),
        ("b", 1),
    ]


@needs_c
def test_a_ledger_made_with_the_key_as_table_constraint_keeps_it(tmp_path: Path) -> None:
    """Ledgers made before the key was an index of its own cannot drop it: they load
    with upserts, and get no second index."""
    path = tmp_path / "old.sqlite3"
    Ledger(path).close()
    con = sqlite3.connect(path, isolation_level=None)
    cols = ", ".join(f"{r[1]} {r[2]}" for r in con.execute("PRAGMA table_info(events)"))
    cols = cols.replace("id INTEGER", "id INTEGER PRIMARY KEY")
    con.executescript(f"DROP TABLE events; CREATE TABLE events({cols}, UNIQUE(agent, key));")
    con.close()
    ledger = Ledger(path)
    assert key_index(ledger.conn) == "sqlite_autoindex_events_1"
    with ledger.bulk():
        _commit(ledger, 0, [_ev("a", 5)])
        _commit(ledger, 1, [_ev("a", 9)])
    names = {r[0] for r in ledger.conn.execute("SELECT name FROM sqlite_master")}
    assert KEY_INDEX not in names
    assert ledger.conn.execute("SELECT key, total FROM events").fetchall() == [("a", 9)]


@needs_c
def test_a_writer_meanwhile_builds_the_index_and_the_load_goes_on_with_upserts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "l.sqlite3"
    loader = Ledger(path)
    with loader.bulk():
        _commit(loader, 0, [_ev("a", 5), _ev("b", 5)])
        other = Ledger(path)  # its connection builds the index back
        assert key_index(other.conn) == KEY_INDEX
        _commit(other, 10, [_ev("c", 3), _ev("a", 7)])
        other.close()
        _commit(loader, 1, [_ev("b", 8), _ev("c", 4), _ev("a", 6)])
    got = loader.conn.execute("SELECT key, total FROM events ORDER BY id").fetchall()
    assert got == [("a", 7), ("b", 8), ("c", 4)]


@needs_c
def test_a_rolled_back_batch_loses_no_row(tmp_path: Path) -> None:
    """The table of keys then holds rows that were never stored: the load
    stops keeping keys, and what is read again is stored."""
    ledger = Ledger(tmp_path / "l.sqlite3")
    with ledger.bulk():
        _commit(ledger, 0, [_ev("a", 5)])
        batch = ledger.begin("t")
        cur = Cursor("/logs/f1.jsonl", "claude", offset=1, size=1)
        batch.add(cur, packed.pack(merge_rows([_ev("b", 2), _ev("a", 9)], price)), {}, False)
        batch.rollback()
        _commit(ledger, 1, [_ev("b", 2), _ev("a", 9)])
        assert key_index(ledger.conn) == KEY_INDEX  # built by the batch after the rollback
    got = ledger.conn.execute("SELECT key, total FROM events ORDER BY id").fetchall()
    assert got == [("a", 9), ("b", 2)]


@needs_c
def test_rows_the_packer_cannot_take_are_upserted_against_the_index(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    with ledger.bulk():
        _commit(ledger, 0, [_ev("a", 5)])
        rows = merge_rows([_ev("a", 9), _ev("b", 1)], price)
        ledger.commit_rows([(Cursor("/logs/x", "claude"), rows, {}, False)], price_fp="t")
        assert key_index(ledger.conn) == KEY_INDEX
        _commit(ledger, 2, [_ev("b", 4)])
    got = ledger.conn.execute("SELECT key, total FROM events ORDER BY id").fetchall()
    assert got == [("a", 9), ("b", 4)]


_KILLED_LOAD = """
import os, signal, sys
from tmuxtok.ingest import packed
from tmuxtok.ingest.batch import merge_rows
from tmuxtok.ingest.ledger import BULK_CACHE_KIB, KEYED_CACHE_KIB, Ledger
from tmuxtok.ingest.tail import Cursor
from tmuxtok.model.events import UsageEvent

def ev(key, total):
    return UsageEvent(agent="claude", key=key, ts_ms=1_700_000_000_000 + total, model="m",
                      input_tokens=total, output_tokens=0, total_tokens=total,
                      session_id="s", project="/p")

ledger = Ledger(sys.argv[1])
with ledger.bulk():
    for n in range(3):
        rows = packed.pack(merge_rows([ev(f"k{i}", n + i) for i in range(50)]))
        ledger.commit_rows([(Cursor(f"/logs/f{n}", "claude", offset=n), rows, {}, False)])
    batch = ledger.begin()
    batch.add(Cursor("/logs/f9", "claude"), packed.pack(merge_rows([ev("k99", 1)])), {}, False)
    os.kill(os.getpid(), signal.SIGKILL)  # mid-batch, the index still missing
"""


@needs_c
def test_a_load_killed_without_its_index_leaves_a_ledger_that_builds_it(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED_LOAD), str(path)], env=env, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL
    con = sqlite3.connect(path)
    assert key_index(con) is None  # as the kill left it
    con.close()
    ledger = Ledger(path)
    assert key_index(ledger.conn) == KEY_INDEX
    got = ledger.conn.execute("SELECT key, total FROM events ORDER BY id").fetchall()
    assert got == [(f"k{i}", 2 + i) for i in range(50)]  # the third batch's; k99 never committed
    _commit(ledger, 5, [_ev("k3", 1000)])
    assert ledger.conn.execute("SELECT total FROM events WHERE key='k3'").fetchall() == [(1000,)]


def test_keys_stored_twice_by_someone_else_keep_the_row_an_upsert_would(tmp_path: Path) -> None:
    """Not tmuxtok's doing (every writer of its builds the index first), but the
    ledger must still open: per key the row of the greatest rank stays."""
    ledger = Ledger(tmp_path / "l.sqlite3")
    _commit(ledger, 0, [_ev("a", 5), _ev("b", 1)])
    c = ledger.conn
    c.execute(f"DROP INDEX {KEY_INDEX}")
    c.execute(
        "INSERT INTO events(agent, key, ts_ms, model, input, output, cache_create, "
        "cache_create_1h, cache_read, reasoning, total, session, project) "
        "SELECT agent, key, ts_ms - 1, model, 7, 0, 0, 0, 0, 0, 7, session, project FROM events"
    )
    before = c.execute("SELECT v FROM meta WHERE k='data_version'").fetchone()[0]
    ensure_key_index(c)
    assert key_index(c) == KEY_INDEX
    got = c.execute("SELECT key, total FROM events ORDER BY key").fetchall()
    assert got == [("a", 7), ("b", 7)]
    assert c.execute("SELECT v FROM meta WHERE k='data_version'").fetchone()[0] != before


def test_a_load_into_an_empty_ledger_starts_its_file_on_the_way_to_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load commits without fsync; the file's own fdatasync is started at its
    end (in a thread), so the close's checkpoint finds little left to wait for.
    A load into a ledger that had events commits as usual and starts none."""
    import threading

    synced: list[int] = []
    real = os.fdatasync

    def recording(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", recording)
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    inode = os.stat(tmp_path / "ledger.sqlite3").st_ino
    with ledger.bulk():
        _commit(ledger, 1, [_ev("a", 5)])
    for t in threading.enumerate():
        if t.name == "tmuxtok-flush":
            t.join(10)
    assert synced == [inode]
    synced.clear()
    with ledger.bulk():  # not empty now
        _commit(ledger, 2, [_ev("b", 7)])
    assert not any(t.name == "tmuxtok-flush" for t in threading.enumerate())
    assert synced == []
    assert [r[0] for r in ledger.conn.execute("SELECT key FROM events ORDER BY key")] == ["a", "b"]
    ledger.close()


def test_caches_held_are_read_back_and_written_at_release(tmp_path: Path) -> None:
    """What ``scan``'s child makes while its parent builds indexes is kept, and read
    back, in memory, and written in one transaction at the end."""
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    ledger.cache_put("a", "v1", b"one")
    ledger.hold_caches()
    ledger.cache_put("a", "v2", b"two")
    ledger.cache_put("b", "v2", b"three")
    assert ledger.cache_lookup("a") == ("v2", b"two")
    assert ledger.cache_version("b") == "v2"
    other = sqlite3.connect(path)
    assert other.execute("SELECT k, version, v FROM cache ORDER BY k").fetchall() == [
        ("a", "v1", b"one")
    ]
    ledger.release_caches()
    assert other.execute("SELECT k, version, v FROM cache ORDER BY k").fetchall() == [
        ("a", "v2", b"two"),
        ("b", "v2", b"three"),
    ]
    ledger.cache_put("b", "v3", b"four")  # written at once again
    assert other.execute("SELECT v FROM cache WHERE k='b'").fetchone() == (b"four",)
    other.close()
    ledger.close()


@needs_c
def test_a_writer_before_a_deferred_load_is_finished_builds_the_key_index(
    tmp_path: Path,
) -> None:
    """A load with ``defer_indexes`` leaves the key index to ``finish_load``; any
    write before that builds it first, so an event is still stored once."""
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.defer_indexes = True
    with ledger.bulk():
        _commit(ledger, 1, [_ev("a", 5), _ev("b", 6)])
    assert ledger.unfinished() and key_index(ledger.conn) is None
    _commit(ledger, 2, [_ev("a", 9)])  # the same key, more tokens: an update
    assert key_index(ledger.conn) == KEY_INDEX
    assert ledger.conn.execute("SELECT key, total FROM events ORDER BY key").fetchall() == [
        ("a", 9),
        ("b", 6),
    ]
    ledger.finish_load()
    assert not ledger.unfinished()
    assert ledger.conn.execute("PRAGMA synchronous").fetchone()[0] == 1
    ledger.close()
