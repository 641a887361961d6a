"""The poll engine: ranges, intervals, failures and the lock, with a scripted provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cloud.scripted import T0, Scripted, bucket, registry
from tmuxtok.config import Config, parse
from tmuxtok.ingest.cloud import cloud_rows, poll_states
from tmuxtok.ingest.errors import LedgerError
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.poll import CONFIG, FAILED, POLLED, SKIPPED, PollBusy, poll, poll_lock
from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket, PollError

NOW = (T0 + 10 * HOUR_MS + 20 * 60_000) / 1000  # 10:20 UTC, epoch seconds


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.sqlite3")


def config(**table: object) -> Config:
    return parse({"sources": {"cursor": table or {"teams": ["t1"]}, "backfill_days": 2}}, Path("c"))


def test_the_first_poll_reaches_back_backfill_days_and_stores_the_partial_hour(
    ledger: Ledger,
) -> None:
    src = Scripted([bucket(T0 - HOUR_MS), bucket(T0 + 10 * HOUR_MS, inp=7)])
    (r,) = poll(ledger, config(), now=NOW, sources=registry(src))
    lo, hi = T0 + 10 * HOUR_MS - 2 * 24 * HOUR_MS, T0 + 11 * HOUR_MS
    assert src.calls == [("t1", lo, hi)]
    assert (r.status, r.rows, r.lo_ms, r.hi_ms) == (POLLED, 2, lo, hi)
    assert [(x.hour_ms, x.input) for x in cloud_rows(ledger.conn)] == [
        (T0 - HOUR_MS, 100),
        (T0 + 10 * HOUR_MS, 7),
    ]
    (state,) = poll_states(ledger.conn)
    assert (state.watermark_ms, state.last_success, state.last_error) == (hi, NOW, None)


def test_a_source_billed_by_the_day_is_fetched_from_a_utc_midnight(ledger: Ledger) -> None:
    src = Scripted([bucket(T0 - 2 * 24 * HOUR_MS)], [bucket(T0 + 2 * HOUR_MS)])
    src.range_align_ms = 24 * HOUR_MS
    poll(ledger, config(), now=NOW, sources=registry(src))
    # Again at 10:20 with the watermark at 11:00: settle (1 h) takes it to 10:00,
    # and the day's start to 00:00, so the whole day is fetched and replaced.
    poll(ledger, config(), now=NOW, force=True, sources=registry(src))
    assert src.calls == [
        ("t1", T0 - 2 * 24 * HOUR_MS, T0 + 11 * HOUR_MS),
        ("t1", T0, T0 + 11 * HOUR_MS),
    ]
    assert [x.hour_ms for x in cloud_rows(ledger.conn)] == [T0 - 2 * 24 * HOUR_MS, T0 + 2 * HOUR_MS]


def test_a_poll_within_min_interval_is_skipped_unless_forced(ledger: Ledger) -> None:
    src = Scripted([], [bucket(T0 + 10 * HOUR_MS, inp=9)])
    poll(ledger, config(), now=NOW, sources=registry(src))
    (r,) = poll(ledger, config(), now=NOW + 299, sources=registry(src))
    assert (r.status, r.due_in_s) == (SKIPPED, 1)
    assert len(src.calls) == 1
    (r,) = poll(ledger, config(), now=NOW + 299, force=True, sources=registry(src))
    assert r.status == POLLED
    # From settle_s (1 h) before the watermark (11:00): the current hour again.
    assert src.calls[1] == ("t1", T0 + 10 * HOUR_MS, T0 + 11 * HOUR_MS)


def test_a_repoll_overwrites_a_downward_revision(ledger: Ledger) -> None:
    h = T0 + 9 * HOUR_MS
    src = Scripted([bucket(h, inp=500), bucket(h + HOUR_MS, inp=50)], [bucket(h + HOUR_MS, inp=40)])
    poll(ledger, config(), now=NOW, sources=registry(src))
    poll(ledger, config(), now=NOW + 600, sources=registry(src))
    # Hour 9 lies before the second poll's range (10:00 on): kept as settled.
    assert [(x.hour_ms, x.input) for x in cloud_rows(ledger.conn)] == [(h, 500), (h + HOUR_MS, 40)]


def test_a_failed_poll_keeps_rows_and_watermark_and_records_one_line(ledger: Ledger) -> None:
    src = Scripted([bucket(T0 + 10 * HOUR_MS)], PollError("HTTP 503\nfrom the API"))
    poll(ledger, config(), now=NOW, sources=registry(src))
    (r,) = poll(ledger, config(), now=NOW + 600, sources=registry(src))
    assert (r.status, r.error) == (FAILED, "HTTP 503 from the API")
    (state,) = poll_states(ledger.conn)
    assert (state.watermark_ms, state.last_success, state.last_attempt) == (
        T0 + 11 * HOUR_MS,
        NOW,
        NOW + 600,
    )
    assert state.last_error == "HTTP 503 from the API"
    assert [x.input for x in cloud_rows(ledger.conn)] == [100]


def test_retry_after_is_honoured_then_cleared_by_a_success(ledger: Ledger) -> None:
    src = Scripted(PollError("429 Too Many Requests", retry_after=3600), [])
    (r,) = poll(ledger, config(), now=NOW, sources=registry(src))
    assert r.status == FAILED
    (r,) = poll(ledger, config(), now=NOW + 1800, sources=registry(src))
    assert (r.status, r.due_in_s) == (SKIPPED, 1800)
    (r,) = poll(ledger, config(), now=NOW + 3600, sources=registry(src))
    assert r.status == POLLED
    assert poll_states(ledger.conn)[0].retry_at is None


def test_an_unexpected_error_is_stored_as_its_type_only(ledger: Ledger) -> None:
    src = Scripted(RuntimeError("token sk-secret-123 rejected"))
    (r,) = poll(ledger, config(), now=NOW, sources=registry(src))
    assert r.status == FAILED and r.error is not None
    assert "RuntimeError" in r.error and "sk-secret" not in r.error
    (state,) = poll_states(ledger.conn)
    assert state.last_error == r.error and state.watermark_ms is None
    assert cloud_rows(ledger.conn) == []


def test_a_table_the_source_refuses_is_a_config_result(ledger: Ledger) -> None:
    src = Scripted()
    (r,) = poll(ledger, config(teams="t1"), now=NOW, sources=registry(src))
    assert (r.status, r.account) == (CONFIG, "")
    assert r.error == "c: sources.cursor: teams: expected a list of team ids"
    assert src.calls == [] and poll_states(ledger.conn) == []


def test_each_account_is_polled_on_its_own(ledger: Ledger) -> None:
    src = Scripted(PollError("team a: 401"), [bucket(T0 + 10 * HOUR_MS)])
    got = poll(ledger, config(teams=["a", "b"]), now=NOW, sources=registry(src))
    assert [(r.account, r.status) for r in got] == [("a", FAILED), ("b", POLLED)]
    assert [r.account for r in cloud_rows(ledger.conn)] == ["b"]


def test_only_another_source_polls_nothing(ledger: Ledger) -> None:
    src = Scripted()
    assert poll(ledger, config(), only={"bedrock"}, now=NOW, sources=registry(src)) == []


def test_a_held_lock_skips_the_poll(ledger: Ledger) -> None:
    src = Scripted([])
    with poll_lock(), pytest.raises(PollBusy, match="another poll is running"):
        poll(ledger, config(), now=NOW, sources=registry(src))
    assert src.calls == []
    (r,) = poll(ledger, config(), now=NOW, sources=registry(src))  # released
    assert r.status == POLLED


def test_ledger_rebuild_keeps_the_cloud_tables(ledger: Ledger) -> None:
    src = Scripted([bucket(T0 + 10 * HOUR_MS)])
    poll(ledger, config(), now=NOW, sources=registry(src))
    ledger.reset()
    assert len(cloud_rows(ledger.conn)) == 1
    assert poll_states(ledger.conn)[0].watermark_ms == T0 + 11 * HOUR_MS


@pytest.mark.parametrize("answer", [[bucket(T0 + 10 * HOUR_MS)], PollError("HTTP 500")])
def test_a_ledger_that_cannot_be_written_is_a_ledger_error(
    ledger: Ledger, answer: list[HourBucket] | PollError
) -> None:
    ledger.conn.execute("PRAGMA query_only=1")  # every write fails, as on a read-only disk
    with pytest.raises(LedgerError, match=r"^cannot write the ledger .*ledger\.sqlite3: "):
        poll(ledger, config(), now=NOW, sources=registry(Scripted(answer)))


def test_the_lock_file_is_private_and_never_a_planted_link(ledger: Ledger, tmp_path: Path) -> None:
    import os
    import stat

    from tmuxtok.errors import PathError
    from tmuxtok.paths import state_dir

    poll(ledger, config(), now=NOW, sources=registry(Scripted([])))
    lock = Path(state_dir()) / "poll.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert stat.S_IMODE(lock.parent.stat().st_mode) == 0o700
    lock.unlink()
    target = tmp_path / "elsewhere"
    target.write_text("")
    lock.symlink_to(target)
    with pytest.raises(PathError, match="symbolic link"):
        poll(ledger, config(), now=NOW, force=True, sources=registry(Scripted([])))
    assert os.path.islink(lock) and target.read_text() == ""
