"""The Redis presence backend under a burst of joins (needs Redis; CI fails without it)."""

import asyncio
import uuid

import pytest

from realtime import presence
from realtime.presence import RedisPresence

pytestmark = pytest.mark.asyncio


async def test_a_burst_of_joins_waits_for_connections_instead_of_failing(monkeypatch, redis_url):
    monkeypatch.setattr(presence, "REDIS_POOL_SIZE", 4)
    backend = RedisPresence(redis_url, ttl=30)
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
