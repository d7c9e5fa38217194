"""`/health` for load balancers, answered at the ASGI level.

Before Django: no middleware, no URL resolution and no ALLOWED_HOSTS check (load
balancers probe with the IP address as Host). It checks the database, the channel
layer and the presence backend concurrently, each bounded by CHECK_TIMEOUT, and answers

    {"status": "ok"|"error", "checks": {"database": {"ok": true, "backend": "sqlite", "ms": 1.2},
                                        "channel_layer": {...}, "presence": {...}}}

with 200 when every part is ok, else 503 (a failing part has `"ok": false` and a short
`error`). Probes arriving while a check runs, or within CACHE_SECONDS after it, share
its result, so a storm of probes costs one check. The server access logs leave these
requests out; a change between passing and failing is logged instead.
"""

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from realtime.health import channel_layer_check, close_clients, error_text, presence_check
from realtime.logging import quiet_access_log

HEALTH_PATH = "/health"
CHECK_TIMEOUT = 2.0  # seconds each part may take before it counts as failing
CACHE_SECONDS = 0.5

logger = logging.getLogger(__name__)

Result = dict[str, Any]
ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def _select_one() -> str:
    """SELECT 1 on this thread's connection; the vendor name on success."""
    connection = connections[DEFAULT_DB_ALIAS]
    was_open = connection.connection is not None
    try:
        _query(connection)
    except DatabaseError:
        if not was_open:
            raise
        # A connection opened before a database restart fails once; a fresh one tells the truth.
        _query(connection)
    return connection.vendor


def _query(connection: Any) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        with contextlib.suppress(DatabaseError):
            connection.close()
        raise


class _DatabaseThread:
    """One daemon thread for database checks, keeping its own connection between them.

    Not realtime's db_call: its one worker thread may be queued behind real work, and a
    probe must time the database, not that queue. A daemon thread, so a database that
    never answers does not hold up the process's exit either.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[concurrent.futures.Future[str]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_job: concurrent.futures.Future[str] | None = None

    def submit(self) -> "concurrent.futures.Future[str]":
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="health-database", daemon=True)
                self._thread.start()
        job: concurrent.futures.Future[str] = concurrent.futures.Future()
        self.last_job = job
        self._jobs.put(job)
        return job

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if not job.set_running_or_notify_cancel():
                continue  # its probe gave up waiting
            try:
                job.set_result(_select_one())
            except BaseException as error:
                job.set_exception(error)


_database_thread = _DatabaseThread()


async def database_check() -> Result:
    """SELECT 1 through Django's default connection, on the health thread."""
    vendor = connections[DEFAULT_DB_ALIAS].vendor
    last_job = _database_thread.last_job
    if last_job is not None and last_job.running():
        # A hung query: queueing more behind it would only pile up.
        return {"ok": False, "backend": vendor, "error": "the previous check has not returned"}
    started = time.perf_counter()
    try:
        await asyncio.wrap_future(_database_thread.submit())
    except Exception as error:
        return {"ok": False, "backend": vendor, "error": error_text(error)}
    return {"ok": True, "backend": vendor, "ms": round((time.perf_counter() - started) * 1000, 1)}


async def _bounded(check: Callable[[], Awaitable[Result]]) -> Result:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return await check()
    except TimeoutError:
        return {"ok": False, "error": f"no answer in {CHECK_TIMEOUT:g} s"}
    except Exception as error:
        return {"ok": False, "error": error_text(error)}


# The parts `/health` reports, each checked concurrently and bounded by CHECK_TIMEOUT.
CHECKS: dict[str, Callable[[], Awaitable[Result]]] = {
    "database": database_check,
    "channel_layer": channel_layer_check,
    "presence": presence_check,
}


async def run_checks() -> Result:
    """Every part's check, concurrently; the report `/health` sends."""
    results = await asyncio.gather(*(_bounded(check) for check in CHECKS.values()))
    parts = dict(zip(CHECKS, results, strict=True))
    return {"status": "ok" if all(part["ok"] for part in results) else "error", "checks": parts}


async def close() -> None:
    """Closes the running loop's Redis check clients (a server keeps them for its life; tests close them)."""
    await close_clients()


@dataclass
class _Round:
    loop: asyncio.AbstractEventLoop
    task: "asyncio.Task[Result]"
    finished_at: float | None = None


class HealthEndpoint:
    """ASGI HTTP app: GET and HEAD `/health` here, every other request to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._round: _Round | None = None
        self._failing: list[str] = []
        quiet_access_log(HEALTH_PATH)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != HEALTH_PATH:
            await self.app(scope, receive, send)
            return
        headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
        if scope["method"] not in ("GET", "HEAD"):
            status = 405
            body = orjson.dumps({"detail": f'Method "{scope["method"]}" not allowed.', "code": "method_not_allowed"})
            headers.append((b"allow", b"GET, HEAD"))
        else:
            report = await self.report()
            status = 200 if report["status"] == "ok" else 503
            body = orjson.dumps(report)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    async def report(self) -> Result:
        """The current round's report: a new round once the last one is CACHE_SECONDS old."""
        loop = asyncio.get_running_loop()
        current = self._round
        if (
            current is None
            or current.loop is not loop
            or (current.finished_at is not None and time.monotonic() - current.finished_at >= CACHE_SECONDS)
        ):
            current = self._round = _Round(loop, loop.create_task(self._check(), name="health-check"))

            def finished(_: "asyncio.Task[Result]", current: _Round = current) -> None:
                current.finished_at = time.monotonic()

            current.task.add_done_callback(finished)
        # Shielded: a probe that hangs up must not cancel the round the others wait for.
        return await asyncio.shield(current.task)

    async def _check(self) -> Result:
        report = await run_checks()
        failing = [name for name, part in report["checks"].items() if not part["ok"]]
        if failing != self._failing:
            if failing:
                errors = "; ".join(f"{name}: {report['checks'][name].get('error')}" for name in failing)
                logger.warning("Health check failing: %s", errors)
            else:
                logger.info("Health check passing again")
            self._failing = failing
        return report
