"""Rows packed by a parse worker (``ingest/_rows.c``) against rows bound by Python's sqlite3.

The two ways must leave the same ledger, raise the same errors, and a packed
buffer that this module did not write must be refused, never read past.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.event_rows import events, price
from tests.support.logfmt import claude_assistant, claude_file
from tmuxtok.ingest import packed
from tmuxtok.ingest.batch import merge_rows
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.schema import is_corrupt
from tmuxtok.ingest.tail import Cursor
from tmuxtok.model.events import UsageEvent

native = packed.native()
needs_c = pytest.mark.skipif(native is None, reason="the row packer is not built on this machine")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def test_the_row_packer_is_built_where_the_tests_require_it() -> None:
    """``make test`` sets TMUXTOK_REQUIRE_NATIVE=1: CI must not pass on the
    Python path alone because the module silently failed to build or register."""
    if os.environ.get("TMUXTOK_REQUIRE_NATIVE") != "1":
        pytest.skip("TMUXTOK_REQUIRE_NATIVE is not set")
    assert native is not None, "tmuxtok/ingest/_rows.c was not built, or found no libsqlite3"


# --- packing ------------------------------------------------------------------------------------

values = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(),
)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type; a float to the bit (-0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return bool(a == b)


@needs_c
@SETTINGS
@given(st.integers(0, 6).flatmap(lambda n: st.lists(st.tuples(*[values] * n), max_size=8)))
def test_unpack_gives_back_what_was_packed(rows: list[tuple[Any, ...]]) -> None:
    got = packed.pack(rows)
    if not rows:
        assert got == []
        return
    assert isinstance(got, bytes)
    back = packed.unpack(got)
    assert len(back) == len(rows)
    assert all(
        len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
        for a, b in zip(back, rows, strict=True)
    )


@needs_c
@pytest.mark.parametrize(
    "rows",
    [
        [(2**63,)],  # beyond SQLite's integers: executemany says OverflowError
        [("\ud800",)],  # a lone surrogate: executemany says UnicodeEncodeError
        [(True,)],  # not exactly an int
        [(b"bytes",)],
        [(1, 2), (3,)],  # rows of two lengths
        [[1, 2]],  # not a tuple
    ],
)
def test_what_the_packer_cannot_take_stays_a_list(rows: list[Any]) -> None:
    assert packed.pack(rows) is rows


@needs_c
def test_a_damaged_buffer_is_refused_not_read_past(tmp_path: Path) -> None:
    assert native is not None
    good = packed.pack([(1, "abc", 2.5, None), (2, "é", -1.0, None)])
    assert isinstance(good, bytes)
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    conn.execute("CREATE TABLE t(a, b, c, d)")
    handle = conn.execute("SELECT tmuxtok_handle()").fetchone()[0]
    stmt = native.Statement(handle, "INSERT INTO t VALUES(?1, ?2, ?3, ?4)")
    damaged = [
        good[:-1],  # the last value cut short
        good[:7],  # not even a header
        good + b"n",  # a value left over
        good[:8] + b"x" + good[9:],  # an unknown tag
        good[:8] + b"s\xff\xff\xff\x7f" + good[13:],  # a text longer than the buffer
    ]
    for bad in damaged:
        with pytest.raises(ValueError):
            packed.unpack(bad)
    for bad in damaged:
        with pytest.raises(ValueError):
            stmt.run(bad)
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)  # not even the whole rows
    with pytest.raises(ValueError, match="4 parameters"):
        stmt.run(packed.pack([(1, 2)]))
    assert stmt.run(good) == (2, None)  # the third column holds no int: no least time
    assert conn.execute("SELECT * FROM t").fetchall() == [
        (1, "abc", 2.5, None),
        (2, "é", -1.0, None),
    ]
    stmt.close()
    with pytest.raises(ValueError, match="closed"):
        stmt.run(good)
    conn.close()


# --- storing ------------------------------------------------------------------------------------


def _store(path: Path, reads: list[list[UsageEvent]], pack: bool) -> tuple[list[Any], ...]:
    ledger = Ledger(path)
    for n, evs in enumerate(reads):
        rows = merge_rows(evs, price)
        cur = Cursor(str(path.parent / f"f{n}.jsonl"), "claude", offset=n, size=n)
        ledger.commit_rows([(cur, packed.pack(rows) if pack else rows, {}, False)], price_fp="t")
    out = tuple(
        ledger.conn.execute(q).fetchall()
        for q in (
            "SELECT * FROM events ORDER BY id",
            "SELECT * FROM changes ORDER BY seq",
            "SELECT k, v FROM meta ORDER BY k",
        )
    )
    ledger.close()
    return out


@needs_c
@SETTINGS
@given(st.lists(st.lists(events, max_size=6), min_size=1, max_size=4))
def test_packed_rows_leave_the_ledger_that_bound_rows_leave(
    tmp_path_factory: pytest.TempPathFactory, reads: list[list[UsageEvent]]
) -> None:
    """Upserts over keys seen before (the rank rule, speeds, prices), the
    change log's earliest time and the data version, all the same."""
    d = tmp_path_factory.mktemp("ledgers")
    assert _store(d / "packed.sqlite3", reads, True) == _store(d / "bound.sqlite3", reads, False)


def _error(run: Any) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as got:
        run()
    return got.value


@needs_c
def test_a_failing_step_raises_what_sqlite3_raises(tmp_path: Path) -> None:
    """The class and the extended code, which ``is_corrupt`` and the ledger's
    error handling read, are those Python's sqlite3 gives for the same failure."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    conn.execute("CREATE TABLE t(x INTEGER CHECK (x > 0), y UNIQUE)")
    sql = "INSERT INTO t VALUES(?1, ?2)"
    for rows in ([(-1, "a")], [(1, "a"), (2, "a")]):
        conn.execute("BEGIN")
        writer = packed.Writer(conn, sql)
        ours = _error(lambda: writer.run(packed.pack(rows)))  # noqa: B023 (called at once)
        conn.execute("ROLLBACK")
        conn.execute("BEGIN")
        theirs = _error(lambda: conn.executemany(sql, rows))  # noqa: B023
        conn.execute("ROLLBACK")
        writer.close()
        assert type(ours) is type(theirs) is sqlite3.IntegrityError
        assert ours.sqlite_errorcode == theirs.sqlite_errorcode  # type: ignore[attr-defined]
        assert ours.sqlite_errorname == theirs.sqlite_errorname  # type: ignore[attr-defined]
        assert str(ours) == str(theirs)
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)

    ro = sqlite3.connect(f"file:{tmp_path / 't.db'}?mode=ro", uri=True, isolation_level=None)
    ours = _error(lambda: packed.Writer(ro, sql).run(packed.pack([(1, "b")])))
    theirs = _error(lambda: ro.executemany(sql, [(1, "b")]))
    assert type(ours) is type(theirs) is sqlite3.OperationalError
    assert ours.sqlite_errorcode == theirs.sqlite_errorcode  # type: ignore[attr-defined]
    ro.close()
    conn.close()


def test_error_codes_map_to_the_classes_python_raises() -> None:
    assert is_corrupt(packed.sqlite_error(11, "database disk image is malformed"))
    assert is_corrupt(packed.sqlite_error(26, "file is not a database"))
    assert is_corrupt(packed.sqlite_error(779, "corrupt vtab"))  # SQLITE_CORRUPT_VTAB
    assert not is_corrupt(packed.sqlite_error(5, "database is locked"))
    assert type(packed.sqlite_error(5, "")) is sqlite3.OperationalError
    assert type(packed.sqlite_error(2067, "")) is sqlite3.IntegrityError  # CONSTRAINT_UNIQUE
    assert type(packed.sqlite_error(7, "")) is MemoryError
    assert type(packed.sqlite_error(99, "")) is sqlite3.DatabaseError


def test_rows_unpacked_or_never_packed_go_through_executemany(tmp_path: Path) -> None:
    """The way a connection without the handle function takes (and every
    connection where the module is not built)."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    conn.execute("CREATE TABLE t(a, b, c)")
    writer = packed.Writer(conn, "INSERT INTO t VALUES(?1, ?2, ?3)")
    writer._bound = False
    rows = [(1, "x", 30), (2, "y", 20)]
    assert writer.run(packed.pack(rows)) == 20
    assert writer.run([]) is None
    assert conn.execute("SELECT * FROM t").fetchall() == rows
    conn.close()


# --- a whole scan -------------------------------------------------------------------------------


def _scan(env: dict[str, str], home: Path, native_on: bool) -> list[Any]:
    run_env = {**env, "HOME": str(home), "XDG_DATA_HOME": str(home / "data")}
    run_env["XDG_STATE_HOME"] = str(home / "state")
    run_env["XDG_CACHE_HOME"] = str(home / "cache")
    run_env["TMUXTOK_NATIVE"] = "1" if native_on else "0"
    done = subprocess.run(
        [sys.executable, "-m", "tmuxtok", "scan", "--quiet"],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    ledgers = list(home.rglob("ledger.sqlite3"))
    assert len(ledgers) == 1
    conn = sqlite3.connect(f"file:{ledgers[0]}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT * FROM events ORDER BY agent, key").fetchall()
    finally:
        conn.close()


@needs_c
def test_a_scan_stores_the_same_with_the_c_modules_on_and_off(
    env: dict[str, str], tmp_path: Path
) -> None:
    root = Path(env["CLAUDE_CONFIG_DIR"])
    for i in range(3):
        with claude_file(root, f"s{i}.jsonl").open("wb") as f:
            for j in range(40):
                f.write(claude_assistant(f"2026-01-09T1{i}:{j:02d}:00Z", f"msg-{j % 25}", out=j))
    on = _scan(env, tmp_path / "on", True)
    off = _scan(env, tmp_path / "off", False)
    assert len(on) == 25
    assert on == off
