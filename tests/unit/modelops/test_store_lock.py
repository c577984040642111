"""``MonitoringStore.locked``: mutual exclusion across threads and processes, on both backends.

Each worker does read / sleep / write of a shared counter. Without the lock the sleep lets the workers
read the same value and updates are lost (replacing ``locked`` with a plain ``begin`` ends with a count of
1 or 2 of 8 on both backends); with it the count is exactly N.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelops.monitoring import store as store_module
from modelops.monitoring.store import MonitoringStore, StoreUnavailableError, open_store

WORKERS = 8


def _counter_store(url: str) -> MonitoringStore:
    store = open_store(url)
    store.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    store.execute("INSERT INTO counter (id, n) VALUES (1, 0)")
    return store


def _read(conn: Connection) -> int:
    return int(conn.execute(sa.text("SELECT n FROM counter WHERE id = 1")).scalar_one())


def _increment(store: MonitoringStore, name: str = "x", pause: float = 0.02) -> None:
    with store.locked(name) as conn:
        value = _read(conn)
        time.sleep(pause)  # widens the window a missing lock would lose updates in
        conn.execute(sa.text("UPDATE counter SET n = :n WHERE id = 1"), {"n": value + 1})


def _counter(store: MonitoringStore) -> int:
    return int(store.fetch_all("SELECT n FROM counter WHERE id = 1")[0]["n"])


def test_threads_under_the_lock_never_lose_an_update(store_url: str) -> None:
    store = _counter_store(store_url)
    with ThreadPoolExecutor(WORKERS) as pool:
        for future in [pool.submit(_increment, store) for _ in range(WORKERS)]:
            future.result()
    assert _counter(store) == WORKERS
    assert store.fetch_all("SELECT token FROM modelops_locks WHERE name = 'x'")[0]["token"] == WORKERS
    store.dispose()


def test_exception_rolls_back_and_releases_the_lock(store_url: str) -> None:
    store = _counter_store(store_url)
    with pytest.raises(RuntimeError, match="boom"), store.locked("x") as conn:
        conn.execute(sa.text("UPDATE counter SET n = 99 WHERE id = 1"))
        raise RuntimeError("boom")
    assert _counter(store) == 0
    done = threading.Event()
    thread = threading.Thread(target=lambda: (_increment(store, pause=0), done.set()))
    thread.start()
    assert done.wait(10), "the lock was not released by the failed block"
    thread.join()
    assert _counter(store) == 1
    store.dispose()


def test_a_second_taker_waits_for_the_holder(store_url: str) -> None:
    store = _counter_store(store_url)
    acquired = threading.Event()

    def take() -> None:
        with store.locked("x"):
            acquired.set()

    with store.locked("x"):
        thread = threading.Thread(target=take)
        thread.start()
        assert not acquired.wait(0.5), "a second holder got the lock while the first held it"
    assert acquired.wait(10)
    thread.join()
    store.dispose()


@pytest.mark.postgres
def test_postgres_locks_of_other_names_do_not_wait(pg_url: str) -> None:
    store = _counter_store(pg_url)
    acquired = threading.Event()

    def take() -> None:
        with store.locked("y"):
            acquired.set()

    with store.locked("x"):
        thread = threading.Thread(target=take)
        thread.start()
        assert acquired.wait(10), "lock 'y' waited for the holder of lock 'x'"
    thread.join()
    store.dispose()


def test_lock_within_a_caller_transaction_serializes_too(store_url: str) -> None:
    """``lock_within`` on a plain transaction (the audit log's nested case) excludes ``locked`` holders."""
    store = _counter_store(store_url)

    def increment_within(store: MonitoringStore) -> None:
        with store.begin() as conn:
            store.lock_within(conn, "x")
            value = _read(conn)
            time.sleep(0.02)
            conn.execute(sa.text("UPDATE counter SET n = :n WHERE id = 1"), {"n": value + 1})

    with ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(increment_within if i % 2 else _increment, store) for i in range(WORKERS)]
        for future in futures:
            future.result()
    assert _counter(store) == WORKERS
    store.dispose()


def test_a_timed_out_wait_names_the_lock(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _counter_store(store_url)
    waiter = MonitoringStore(store_url)
    if waiter.dialect == "sqlite":
        # SQLite's wait is the engine's busy timeout (30 s); a short one keeps the test quick.
        waiter.__dict__["engine"] = sa.create_engine(waiter.url, connect_args={"timeout": 0.2})
    monkeypatch.setattr(store_module, "LOCK_WAIT_S", 0.2)
    errors: list[BaseException] = []

    def take() -> None:
        try:
            with waiter.locked("x"):
                pass
        except StoreUnavailableError as exc:
            errors.append(exc)

    with store.locked("x"):
        thread = threading.Thread(target=take)
        thread.start()
        thread.join(20)
    assert len(errors) == 1
    assert "cannot take lock 'x'" in str(errors[0]) and "\n" not in str(errors[0])
    waiter.dispose()
    store.dispose()


def _process_worker(url: str, times: int) -> None:
    store = MonitoringStore(url)
    for _ in range(times):
        _increment(store, pause=0.01)
    store.dispose()


def test_processes_under_the_lock_never_lose_an_update(store_url: str) -> None:
    store = _counter_store(store_url)
    processes, times = 4, 3
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_process_worker, args=(store_url, times)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0] * processes
    assert _counter(store) == processes * times
    store.dispose()
