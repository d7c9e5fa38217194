"""The Redis presence backend under a burst of joins (runs where REDIS_URL is set)."""

import asyncio
import os
import uuid

import pytest

from realtime import presence
from realtime.presence import RedisPresence

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (the PostgreSQL + Redis CI run)"),
]


async def test_a_burst_of_joins_waits_for_connections_instead_of_failing(monkeypatch):
    monkeypatch.setattr(presence, "REDIS_POOL_SIZE", 4)
    backend = RedisPresence(os.environ["REDIS_URL"], ttl=30)
    key = f"test:burst{uuid.uuid4().hex[:8]}"
    try:
        firsts = await asyncio.gather(*(backend.add(key, f"u:{i}", {"id": i}, f"c{i}") for i in range(300)))
        assert all(firsts)
        assert await backend.count(key) == 300
        lasts = await asyncio.gather(*(backend.remove(key, f"u:{i}", f"c{i}") for i in range(300)))
        assert all(lasts)
        assert await backend.count(key) == 0
    finally:
        await backend.close()
