"""The realtime worker thread keeps one database connection and recovers when it breaks."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connection

from realtime import db
from realtime.db import db_call
from realtime.testing import open_client

User = get_user_model()

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


async def test_worker_connection_is_reused_between_calls():
    # The connection objects themselves are kept, so a freed one cannot pass as the same.
    seen: list[object] = []

    def query() -> None:
        User.objects.exists()
        seen.append(connection.connection)

    await db_call(query)()
    await db_call(query)()
    assert seen[0] is not None and seen[0] is seen[1]


async def test_connection_killed_by_the_server_is_replaced(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's pg_terminate_backend")
    monkeypatch.setattr(db, "HEALTH_CHECK_AFTER", 0.0)
    pid = await db_call(backend_pid)()

    def terminate() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        finally:
            connection.close()

    # Killed from another thread's connection while the worker's sits idle (a database restart).
    await sync_to_async(terminate, thread_sensitive=False)()
    client = await open_client()
    reply = await client.join("test:room")  # the next frame still works, on a new connection
    assert reply["ok"] is True
    assert await db_call(backend_pid)() != pid
    await client.disconnect()
