"""Who is connected to each topic, per member (a user; several tabs count once).

Two backends with one interface: `LocalPresence` keeps everything in this process
(the embedded default); `RedisPresence` spans every server process. In Redis each
connection entry carries an expiry that its process refreshes; when a process dies
its entries stop being refreshed and the next sweep by any live process removes them
and reports the members that left.
"""

from dataclasses import dataclass, field
from typing import Any

import orjson
import redis
from redis import asyncio as aioredis

SNAPSHOT_LIMIT = 100
REDIS_POOL_SIZE = 32
REDIS_POOL_WAIT = 30  # seconds a presence update may wait for a free connection


@dataclass(slots=True)
class Snapshot:
    """Up to `limit` members' info (pinned members first, the asking member always in), the
    number of members, and the number of members in each presence group."""

    members: list[dict[str, Any]]
    count: int
    groups: dict[str, int] = field(default_factory=dict)


def _capped(
    order: list[str], infos: dict[str, dict[str, Any]], limit: int, include: str | None, pinned: tuple[str, ...]
) -> list[dict[str, Any]]:
    """`limit` members' info: pinned ones first, then in order, with `include` never left out."""
    chosen = [member for member in pinned if member in infos]
    chosen += [member for member in order if member not in chosen][: max(0, limit - len(chosen))]
    chosen = chosen[:limit]
    if include is not None and include in infos and include not in chosen and limit > 0:
        chosen[-1:] = [include]
    return [infos[member] for member in chosen]


@dataclass(slots=True)
class _LocalMember:
    info: dict[str, Any]
    group: str | None = None
    conns: set[str] = field(default_factory=set)


class LocalPresence:
    """In-process presence: exact, instant, gone with the process."""

    def __init__(self) -> None:
        self.topics: dict[str, dict[str, _LocalMember]] = {}

    async def add(self, key: str, member: str, info: dict[str, Any], conn_id: str, group: str | None = None) -> bool:
        """Records the connection; True when it is the member's first on this topic."""
        members = self.topics.setdefault(key, {})
        entry = members.get(member)
        if entry is None:
            entry = members[member] = _LocalMember(info=info, group=group)
        entry.conns.add(conn_id)
        return len(entry.conns) == 1

    async def remove(self, key: str, member: str, conn_id: str) -> bool:
        """Forgets the connection; True when it was the member's last on this topic."""
        members = self.topics.get(key)
        entry = members.get(member) if members else None
        if members is None or entry is None or conn_id not in entry.conns:
            return False
        entry.conns.discard(conn_id)
        if entry.conns:
            return False
        del members[member]
        if not members:
            del self.topics[key]
        return True

    async def snapshot(
        self, key: str, limit: int = SNAPSHOT_LIMIT, *, include: str | None = None, pinned: tuple[str, ...] = ()
    ) -> Snapshot:
        members = self.topics.get(key, {}).copy()
        groups: dict[str, int] = {}
        for entry in members.values():
            if entry.group is not None:
                groups[entry.group] = groups.get(entry.group, 0) + 1
        infos = {member: entry.info for member, entry in members.items()}
        return Snapshot(
            members=_capped(list(members), infos, limit, include, pinned), count=len(members), groups=groups
        )

    async def count(self, key: str) -> int:
        return len(self.topics.get(key, {}))

    async def refresh(self, entries: list[tuple[str, str, str]]) -> None:
        """Nothing expires in-process."""

    async def sweep(self, key: str) -> list[tuple[str, dict[str, Any]]]:
        return []

    async def close(self) -> None:
        self.topics.clear()


# Keys per topic: {p}:m (zset member -> latest expiry), {p}:c:<member> (zset conn -> expiry),
# {p}:i (hash member -> info JSON), {p}:g (hash member -> group) and {p}:gc (hash group ->
# members in it), kept by the same scripts that add and remove members, so a count never
# needs a scan; a topic nobody is in leaves no key behind but the expiring connection sets.
# Scripts use Redis' clock so process clocks never matter.
_ADD = """
local now = tonumber(redis.call('TIME')[1])
local expiry = now + tonumber(ARGV[4])
local conns = KEYS[1] .. ':c:' .. ARGV[1]
redis.call('ZREMRANGEBYSCORE', conns, '-inf', now)
redis.call('ZADD', conns, expiry, ARGV[2])
redis.call('EXPIRE', conns, ARGV[4] * 2)
if redis.call('ZADD', KEYS[1] .. ':m', expiry, ARGV[1]) == 1 and ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1] .. ':g', ARGV[1], ARGV[5])
  redis.call('HINCRBY', KEYS[1] .. ':gc', ARGV[5], 1)
end
redis.call('HSET', KEYS[1] .. ':i', ARGV[1], ARGV[3])
return redis.call('ZCARD', conns)
"""

_REMOVE = """
local now = tonumber(redis.call('TIME')[1])
local conns = KEYS[1] .. ':c:' .. ARGV[1]
if redis.call('ZREM', conns, ARGV[2]) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', conns, '-inf', now)
if redis.call('ZCARD', conns) > 0 then return 0 end
redis.call('ZREM', KEYS[1] .. ':m', ARGV[1])
redis.call('HDEL', KEYS[1] .. ':i', ARGV[1])
redis.call('DEL', conns)
local group = redis.call('HGET', KEYS[1] .. ':g', ARGV[1])
if group then
  redis.call('HDEL', KEYS[1] .. ':g', ARGV[1])
  if redis.call('HINCRBY', KEYS[1] .. ':gc', group, -1) <= 0 then redis.call('HDEL', KEYS[1] .. ':gc', group) end
end
return 1
"""

# Removes members whose every connection expired; returns their info. Atomic, so
# when several processes sweep at once exactly one reports each departure.
_SWEEP = """
local now = tonumber(redis.call('TIME')[1])
local stale = redis.call('ZRANGEBYSCORE', KEYS[1] .. ':m', '-inf', now)
local gone = {}
for _, member in ipairs(stale) do
  local conns = KEYS[1] .. ':c:' .. member
  redis.call('ZREMRANGEBYSCORE', conns, '-inf', now)
  local alive = redis.call('ZRANGE', conns, -1, -1, 'WITHSCORES')
  if alive[2] then
    redis.call('ZADD', KEYS[1] .. ':m', alive[2], member)
  else
    redis.call('ZREM', KEYS[1] .. ':m', member)
    local info = redis.call('HGET', KEYS[1] .. ':i', member)
    redis.call('HDEL', KEYS[1] .. ':i', member)
    redis.call('DEL', conns)
    local group = redis.call('HGET', KEYS[1] .. ':g', member)
    if group then
      redis.call('HDEL', KEYS[1] .. ':g', member)
      if redis.call('HINCRBY', KEYS[1] .. ':gc', group, -1) <= 0 then redis.call('HDEL', KEYS[1] .. ':gc', group) end
    end
    if info then table.insert(gone, member); table.insert(gone, info) end
  end
end
return gone
"""

# ARGV: limit, then the members to look up even past the limit (pinned ones, the joiner).
# Returns {count, members, infos, wanted infos (false when absent), group counts}.
_SNAPSHOT = """
local now = tonumber(redis.call('TIME')[1])
local members = redis.call('ZRANGEBYSCORE', KEYS[1] .. ':m', '(' .. now, '+inf', 'LIMIT', 0, ARGV[1])
local count = redis.call('ZCOUNT', KEYS[1] .. ':m', '(' .. now, '+inf')
local infos = {}
if #members > 0 then infos = redis.call('HMGET', KEYS[1] .. ':i', unpack(members)) end
local wanted = {}
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1] .. ':m', ARGV[i])
  if score and tonumber(score) > now then
    wanted[i - 1] = redis.call('HGET', KEYS[1] .. ':i', ARGV[i]) or false
  else
    wanted[i - 1] = false
  end
end
return {count, members, infos, wanted, redis.call('HGETALL', KEYS[1] .. ':gc')}
"""

_REFRESH = """
local now = tonumber(redis.call('TIME')[1])
local expiry = now + tonumber(ARGV[1])
for i = 2, #ARGV, 3 do
  local base = ARGV[i]
  local conns = base .. ':c:' .. ARGV[i + 1]
  redis.call('ZADD', conns, expiry, ARGV[i + 2])
  redis.call('EXPIRE', conns, ARGV[1] * 2)
  redis.call('ZADD', base .. ':m', 'GT', expiry, ARGV[i + 1])
end
return 1
"""


class RedisPresence:
    """Presence shared by every server process through Redis; see the module docstring."""

    def __init__(self, url: str, ttl: int, prefix: str = "rt") -> None:
        # A blocking pool: a thousand joins at once wait for a connection instead of
        # failing with MaxConnectionsError (redis-py's default pool raises at its limit).
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=REDIS_POOL_SIZE, timeout=REDIS_POOL_WAIT, socket_timeout=None
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        self.ttl = ttl
        self.prefix = prefix
        self._add = self.redis.register_script(_ADD)
        self._remove = self.redis.register_script(_REMOVE)
        self._sweep = self.redis.register_script(_SWEEP)
        self._snapshot = self.redis.register_script(_SNAPSHOT)
        self._refresh = self.redis.register_script(_REFRESH)

    def _base(self, key: str) -> str:
        return f"{self.prefix}:p:{key}"

    async def add(self, key: str, member: str, info: dict[str, Any], conn_id: str, group: str | None = None) -> bool:
        count = await self._add(
            keys=[self._base(key)], args=[member, conn_id, orjson.dumps(info), self.ttl, group or ""]
        )
        return int(count) == 1

    async def remove(self, key: str, member: str, conn_id: str) -> bool:
        return bool(await self._remove(keys=[self._base(key)], args=[member, conn_id]))

    async def snapshot(
        self, key: str, limit: int = SNAPSHOT_LIMIT, *, include: str | None = None, pinned: tuple[str, ...] = ()
    ) -> Snapshot:
        wanted = [*pinned, *([include] if include is not None else [])]
        count, members, infos, wanted_infos, flat_groups = await self._snapshot(
            keys=[self._base(key)], args=[limit, *wanted]
        )
        found = {member.decode(): orjson.loads(info) for member, info in zip(members, infos, strict=True) if info}
        order = list(found)
        for member, info in zip(wanted, wanted_infos, strict=True):
            if info:
                found[member] = orjson.loads(info)
        groups = {
            flat_groups[i].decode(): int(flat_groups[i + 1])
            for i in range(0, len(flat_groups), 2)
            if int(flat_groups[i + 1]) > 0
        }
        return Snapshot(members=_capped(order, found, limit, include, pinned), count=int(count), groups=groups)

    async def count(self, key: str) -> int:
        count, *_ = await self._snapshot(keys=[self._base(key)], args=[0])
        return int(count)

    async def refresh(self, entries: list[tuple[str, str, str]]) -> None:
        """Pushes back the expiry of this process's (topic, member, conn) entries."""
        for start in range(0, len(entries), 500):
            args: list[Any] = [self.ttl]
            for key, member, conn_id in entries[start : start + 500]:
                args.extend((self._base(key), member, conn_id))
            await self._refresh(keys=[], args=args)

    async def sweep(self, key: str) -> list[tuple[str, dict[str, Any]]]:
        """Members of `key` whose connections all expired, removed now, with their info."""
        flat = await self._sweep(keys=[self._base(key)])
        return [(flat[i].decode(), orjson.loads(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def server_run_id(self) -> str:
        """The Redis server's run id: it changes when Redis restarts (having lost everything)."""
        info = await self.redis.info("server")
        return str(info["run_id"])

    async def close(self) -> None:
        await self.redis.aclose()
        await self.redis.connection_pool.disconnect()

    _sync_clients: dict[str, redis.Redis] = {}

    @classmethod
    def present_sync(cls, url: str, prefix: str, key: str, members: list[str]) -> set[str]:
        """The members of `key` with a live entry, read from sync code (services, REST views)."""
        client = cls._sync_clients.get(url)
        if client is None:
            client = cls._sync_clients[url] = redis.Redis.from_url(url, socket_timeout=5)
        now = float(client.time()[0])
        scores = client.zmscore(f"{prefix}:p:{key}:m", members)
        return {member for member, score in zip(members, scores, strict=True) if score is not None and score > now}
