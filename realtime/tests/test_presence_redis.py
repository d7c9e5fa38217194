"""The presence backends: the Redis one under a burst of joins, and both alike for capped
lists and group counts (the Redis cases need Redis; CI fails without it)."""

import asyncio
import uuid

import pytest
from django.conf import settings

from realtime import presence
from realtime.presence import RedisPresence

pytestmark = pytest.mark.asyncio


async def test_a_burst_of_joins_waits_for_connections_instead_of_failing(monkeypatch, redis_url):
    monkeypatch.setattr(presence, "REDIS_POOL_SIZE", 4)
    backend = RedisPresence(redis_url, ttl=30, prefix=settings.REALTIME_REDIS_PREFIX)
    key = f"test:burst{uuid.uuid4().hex[:8]}"
    try:
        firsts = await asyncio.gather(*(backend.add(key, f"u:{i}", {"id": i}, f"c{i}") for i in range(300)))
        assert all(firsts)
        assert await backend.count(key) == 300
        lasts = await asyncio.gather(*(backend.remove(key, f"u:{i}", f"c{i}") for i in range(300)))
        assert all(lasts)
        assert await backend.count(key) == 0
        assert await keys_left(backend, key) == []
    finally:
        await backend.close()


async def keys_left(backend, key: str) -> list[bytes]:
    """The Redis keys of a topic still there (none once everyone left); [] for local presence."""
    if not isinstance(backend, RedisPresence):
        return []
    return [name async for name in backend.redis.scan_iter(match=f"{settings.REALTIME_REDIS_PREFIX}:p:{key}:*")]


@pytest.fixture(params=["local", "redis"])
def backend_factory(request):
    """Both presence backends, so they answer alike."""

    def make():
        if request.param == "local":
            return presence.LocalPresence()
        return RedisPresence(request.getfixturevalue("redis_url"), ttl=30, prefix=settings.REALTIME_REDIS_PREFIX)

    return make


async def test_snapshot_caps_the_list_with_pinned_members_first_and_the_joiner_in(backend_factory):
    backend = backend_factory()
    key = f"test:cap{uuid.uuid4().hex[:8]}"
    try:
        await backend.add(key, "owner", {"name": "owner"}, "c-owner", "owner")
        for i in range(presence.SNAPSHOT_LIMIT + 10):
            await backend.add(key, f"u:{i}", {"id": i}, f"c{i}", "viewer")
        joiner = f"u:{presence.SNAPSHOT_LIMIT + 9}"  # added last: beyond the first 100
        snapshot = await backend.snapshot(key, include=joiner, pinned=("owner", "absent"))
        assert len(snapshot.members) == presence.SNAPSHOT_LIMIT
        assert snapshot.members[0] == {"name": "owner"}
        assert {"id": presence.SNAPSHOT_LIMIT + 9} in snapshot.members
        assert snapshot.count == presence.SNAPSHOT_LIMIT + 11
        assert snapshot.groups == {"owner": 1, "viewer": presence.SNAPSHOT_LIMIT + 10}
        await backend.remove(key, "owner", "c-owner")
        for i in range(presence.SNAPSHOT_LIMIT + 10):
            await backend.remove(key, f"u:{i}", f"c{i}")
        assert await keys_left(backend, key) == []
    finally:
        await backend.close()


async def test_group_counts_follow_members_not_connections(backend_factory):
    backend = backend_factory()
    key = f"test:groups{uuid.uuid4().hex[:8]}"
    try:
        await backend.add(key, "u:1", {"id": 1}, "tab-1", "viewer")
        await backend.add(key, "u:1", {"id": 1}, "tab-2", "viewer")  # a second tab counts once
        await backend.add(key, "u:2", {"id": 2}, "tab-3", "viewer")
        assert (await backend.snapshot(key)).groups == {"viewer": 2}
        assert not await backend.remove(key, "u:1", "tab-1")  # another tab is still open
        assert (await backend.snapshot(key)).groups == {"viewer": 2}
        assert await backend.remove(key, "u:1", "tab-2")
        assert await backend.remove(key, "u:2", "tab-3")
        snapshot = await backend.snapshot(key)
        assert snapshot.groups == {} and snapshot.count == 0 and snapshot.members == []
        assert await keys_left(backend, key) == []  # an empty topic costs Redis nothing
    finally:
        await backend.close()


async def test_a_swept_member_leaves_its_group_count(redis_url):
    backend = RedisPresence(redis_url, ttl=1, prefix=settings.REALTIME_REDIS_PREFIX)
    key = f"test:sweep{uuid.uuid4().hex[:8]}"
    try:
        await backend.add(key, "u:1", {"id": 1}, "dead-process-conn", "viewer")
        assert (await backend.snapshot(key)).groups == {"viewer": 1}
        # Nobody refreshes the entry, as when its process was killed; Redis' clock has 1 s steps.
        await asyncio.sleep(2.1)
        assert await backend.sweep(key) == [("u:1", {"id": 1})]
        assert (await backend.snapshot(key)).groups == {}
        assert await keys_left(backend, key) == []
    finally:
        await backend.close()


async def test_deployments_with_different_prefixes_share_a_redis_without_seeing_each_other(redis_url):
    ours = RedisPresence(redis_url, ttl=30, prefix="shop-a")
    theirs = RedisPresence(redis_url, ttl=30, prefix="shop-b")
    key = f"test:{uuid.uuid4().hex}"
    try:
        await ours.add(key, "u:1", {"name": "ann"}, "c1")
        assert await ours.count(key) == 1
        assert await theirs.count(key) == 0  # the same topic name, another deployment
        assert [name async for name in ours.redis.scan_iter(match=f"shop-a:p:{key}*")]
        assert not [name async for name in ours.redis.scan_iter(match=f"rt:p:{key}*")]
    finally:
        await ours.remove(key, "u:1", "c1")
        await ours.close()
        await theirs.close()


async def test_refresh_keeps_a_live_member_past_its_ttl(redis_url):
    backend = RedisPresence(redis_url, ttl=1, prefix=settings.REALTIME_REDIS_PREFIX)
    key = f"test:refresh{uuid.uuid4().hex[:8]}"
    try:
        await backend.add(key, "u:1", {"id": 1}, "live-conn")
        # Its process is alive and refreshes every half TTL, as the hub's upkeep does: past 2 TTLs
        # (Redis' clock has 1 s steps) the entry must still be there, and a sweep must keep it.
        for _ in range(5):
            await asyncio.sleep(0.5)
            await backend.refresh([(key, "u:1", "live-conn")])
        assert await backend.sweep(key) == []
        assert (await backend.snapshot(key)).count == 1
    finally:
        await backend.remove(key, "u:1", "live-conn")
        await backend.close()
