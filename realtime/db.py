"""Running ORM code from the realtime core's async code, on one persistent connection.

Channels' `database_sync_to_async` closes the thread's connection after every call
when CONN_MAX_AGE is 0 (the right default for Django's HTTP requests under ASGI, which
each run in a thread of their own). The realtime core's calls all run in the one
thread-sensitive worker thread of the process, so that thread keeps its connection
open instead: opening and closing one per frame cost more than the write itself
(SQLite checkpoints its WAL when the last connection closes). A connection is
closed when it is broken, left in a transaction, or idle long enough that the
server may have dropped it and fails a health check.
"""

import time
from typing import Any

from asgiref.sync import SyncToAsync
from django.db import connections

# Past this many idle seconds a connection is checked before use.
HEALTH_CHECK_AFTER = 10.0
_last_used: dict[str, float] = {}


def _check_before_use() -> None:
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        # Each call is the worker's request: with DEBUG on, Django logs every query until
        # the next request starts, which this thread never sees (a deque of up to 9,000
        # queries, each with its parameters: hundreds of MB under a stream of large frames).
        if not connection.force_debug_cursor:
            connection.queries_log.clear()
        if connection.connection is None:
            continue
        if now - _last_used.get(connection.alias, now) > HEALTH_CHECK_AFTER and not connection.is_usable():
            connection.close()


def _release_after_use() -> None:
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        broken = connection.errors_occurred and not connection.is_usable()
        if (
            broken
            or connection.in_atomic_block
            or connection.get_autocommit() != connection.settings_dict["AUTOCOMMIT"]
        ):
            connection.close()
            continue
        connection.errors_occurred = False
        _last_used[connection.alias] = now


class PersistentDatabaseSyncToAsync(SyncToAsync):
    """database_sync_to_async that keeps the worker thread's connection between calls."""

    def __init__(self, func: Any) -> None:
        super().__init__(func, thread_sensitive=True)

    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        _check_before_use()
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            _release_after_use()


db_call = PersistentDatabaseSyncToAsync
