"""The presence backends: the Redis one under a burst of joins, both alike for capped lists
and group counts, and in Redis what happens when a process dies: its members drop out of
reads within the TTL and are reported gone exactly once, at a cost per process, not per
connection (the Redis cases need Redis; CI fails without it)."""

import asyncio
import uuid

import pytest
import redis
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
    return [name for host in backend.hosts async for name in host.scan_iter(match=f"{backend.prefix}:p:{key}:*")]


@pytest.fixture
def prefix() -> str:
    """A Redis prefix of the test's own: another test's heartbeats must not sweep its processes."""
    return f"{settings.REALTIME_REDIS_PREFIX}-{uuid.uuid4().hex[:8]}"


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


async def test_deployments_with_different_prefixes_share_a_redis_without_seeing_each_other(redis_url):
    ours = RedisPresence(redis_url, ttl=30, prefix="shop-a")
    theirs = RedisPresence(redis_url, ttl=30, prefix="shop-b")
    key = f"test:{uuid.uuid4().hex}"
    try:
        await ours.add(key, "u:1", {"name": "ann"}, "c1")
        assert await ours.count(key) == 1
        assert await theirs.count(key) == 0  # the same topic name, another deployment
        assert await keys_left(ours, key)
        assert not [name async for name in ours.hosts[0].scan_iter(match=f"shop-b:p:{key}*")]
    finally:
        await ours.remove(key, "u:1", "c1")
        await ours.close()
        await theirs.close()


async def test_a_dead_process_members_leave_reads_within_the_ttl_and_are_reported_gone_once(redis_url, prefix):
    dead = RedisPresence(redis_url, ttl=1, prefix=prefix)  # never beats, as when its process was killed
    # Live processes with a long TTL stay alive without beating while the test waits.
    live, other = RedisPresence(redis_url, ttl=30, prefix=prefix), RedisPresence(redis_url, ttl=30, prefix=prefix)
    key = f"test:dead{uuid.uuid4().hex[:8]}"
    try:
        await dead.add(key, "u:1", {"id": 1}, "dead-1", "viewer")
        await dead.add(key, "u:2", {"id": 2}, "dead-2", "viewer")
        await live.add(key, "u:2", {"id": 2}, "live-2", "viewer")  # u:2 has a tab on a live process too
        await live.add(key, "u:3", {"id": 3}, "live-3", "viewer")
        assert (await live.snapshot(key)).count == 3
        await asyncio.sleep(1.2)  # past the dead process's deadline (Redis time, microseconds)
        # Before any heartbeat removed anything, reads already leave u:1 out.
        snapshot = await live.snapshot(key, include="u:1")
        assert (snapshot.count, snapshot.groups) == (2, {"viewer": 2})
        assert sorted(m["id"] for m in snapshot.members) == [2, 3]
        assert await live.count(key) == 2
        assert RedisPresence.present_sync(redis_url, prefix, key, ["u:1", "u:2", "u:3"]) == {"u:2", "u:3"}
        # Both live processes beat at once: exactly one of them reports u:1, and u:2 stays.
        beats = await asyncio.gather(live.heartbeat(), other.heartbeat())
        assert [gone for beat in beats for gone in beat.gone] == [(key, "u:1", {"id": 1})]
        assert not any(beat.lost for beat in beats)
        assert (await live.heartbeat()).gone == [] and (await other.heartbeat()).gone == []
        assert (await live.snapshot(key)).groups == {"viewer": 2}
        assert await dead.remove(key, "u:1", "dead-1") is False  # already gone with its process
        assert await live.remove(key, "u:2", "live-2") and await live.remove(key, "u:3", "live-3")
        assert await keys_left(live, key) == []
    finally:
        for backend in (dead, live, other):
            await backend.close()


async def test_heartbeats_keep_a_live_process_members_past_the_ttl(redis_url, prefix):
    backend, watcher = RedisPresence(redis_url, ttl=2, prefix=prefix), RedisPresence(redis_url, ttl=30, prefix=prefix)
    key = f"test:beat{uuid.uuid4().hex[:8]}"
    try:
        await backend.add(key, "u:1", {"id": 1}, "live-conn")
        # Its process beats more often than every third of the TTL (the hub's pace): past 2 TTLs
        # the member is still there, and another process's heartbeats find nothing to remove.
        for _ in range(15):
            await asyncio.sleep(0.3)
            assert (await backend.heartbeat()).gone == []
            assert (await watcher.heartbeat()).gone == []
        assert (await watcher.snapshot(key)).count == 1
    finally:
        await backend.remove(key, "u:1", "live-conn")
        await backend.close()
        await watcher.close()


async def test_a_process_taken_for_dead_learns_it_at_its_next_heartbeat(redis_url, prefix):
    stalled, live = RedisPresence(redis_url, ttl=1, prefix=prefix), RedisPresence(redis_url, ttl=30, prefix=prefix)
    key = f"test:stall{uuid.uuid4().hex[:8]}"
    try:
        await stalled.add(key, "u:1", {"id": 1}, "c1")
        await asyncio.sleep(1.2)  # its event loop was blocked past the TTL
        assert (await live.heartbeat()).gone == [(key, "u:1", {"id": 1})]
        beat = await stalled.heartbeat()
        assert beat.lost  # so the hub writes its entries back (announcing them)
        assert await stalled.add(key, "u:1", {"id": 1}, "c1")
        assert not (await stalled.heartbeat()).lost
        assert (await live.snapshot(key)).count == 1
    finally:
        await stalled.remove(key, "u:1", "c1")
        await stalled.close()
        await live.close()


async def test_a_dead_process_with_many_entries_is_swept_in_bounded_steps(monkeypatch, redis_url, prefix):
    monkeypatch.setattr(presence, "SWEEP_BUDGET", 7)
    dead, live = RedisPresence(redis_url, ttl=1, prefix=prefix), RedisPresence(redis_url, ttl=30, prefix=prefix)
    keys = [f"test:many{uuid.uuid4().hex[:8]}" for _ in range(3)]
    try:
        for key in keys:
            await asyncio.gather(*(dead.add(key, f"u:{i}", {"id": i}, f"c{i}") for i in range(10)))
        await asyncio.sleep(1.2)
        gone = (await live.heartbeat()).gone
        assert sorted(gone) == sorted((key, f"u:{i}", {"id": i}) for key in keys for i in range(10))
        for key in keys:
            assert await keys_left(live, key) == []
    finally:
        await dead.close()
        await live.close()


async def test_a_heartbeat_costs_the_same_commands_whatever_the_number_of_connections(redis_server):
    backend = RedisPresence(redis_server.url, ttl=30, prefix="idle")
    client = redis.Redis.from_url(redis_server.url)

    async def heartbeat_commands() -> int:
        await asyncio.to_thread(client.config_resetstat)
        await backend.heartbeat()
        stats = await asyncio.to_thread(client.info, "commandstats")
        return sum(int(value["calls"]) for name, value in stats.items() if name != "cmdstat_config|resetstat")

    try:
        await backend.add("test:idle", "u:0", {"id": 0}, "c0")
        await backend.heartbeat()  # loads the script
        with_one = await heartbeat_commands()
        await asyncio.gather(*(backend.add(f"test:idle{i % 50}", f"u:{i}", {"id": i}, f"c{i}") for i in range(2000)))
        assert await heartbeat_commands() == with_one <= 6
    finally:
        client.close()
        await backend.close()


async def test_topics_spread_over_two_redis_hosts_and_each_stays_whole_on_one(two_redis_servers):
    first, second = two_redis_servers
    urls = [first.url, second.url]
    dead, live = RedisPresence(urls, ttl=1, prefix="shard"), RedisPresence(urls, ttl=30, prefix="shard")
    keys = [f"test:shard{i}" for i in range(20)]
    try:
        assert {presence.shard_index(key, 2) for key in keys} == {0, 1}
        for key in keys:
            await dead.add(key, "u:gone", {"id": 0}, f"dead-{key}")
            await live.join(key, "u:here", {"id": 1}, f"live-{key}")
        for index, server in enumerate((first, second)):
            client = redis.Redis.from_url(server.url)
            held = {":".join(name.decode().split(":")[2:4]) for name in client.keys("shard:p:*")}
            client.close()
            assert held == {key for key in keys if presence.shard_index(key, 2) == index}
        assert [(await live.snapshot(key)).count for key in keys] == [2] * len(keys)
        assert RedisPresence.present_sync(urls, "shard", keys[0], ["u:gone", "u:here"]) == {"u:gone", "u:here"}
        await asyncio.sleep(1.2)
        assert [(await live.snapshot(key)).count for key in keys] == [1] * len(keys)
        assert sorted((await live.heartbeat()).gone) == sorted((key, "u:gone", {"id": 0}) for key in keys)
        assert RedisPresence.present_sync(urls, "shard", keys[1], ["u:gone", "u:here"]) == {"u:here"}
        for key in keys:
            assert await live.remove(key, "u:here", f"live-{key}")
            assert await keys_left(live, key) == []
    finally:
        await dead.close()
        await live.close()
