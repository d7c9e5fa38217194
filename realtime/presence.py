"""Who is connected to each topic, per member (a user; several tabs count once).

Two backends with one interface: `LocalPresence` keeps everything in this process
(the embedded default); `RedisPresence` spans every server process. In Redis each
connection entry names the process that owns it, and each process keeps one liveness
deadline that its heartbeat pushes back: idle presence costs Redis a few commands per
process per heartbeat, whatever the number of connections. Reads leave out the entries
of a process whose deadline passed; the next heartbeat of any live process removes them
and reports the members that left (exactly once: the removal is one atomic script).

With several Redis hosts each topic's keys live on one of them (a hash of the topic
key), so every script about a topic stays atomic on one host; each host keeps the
liveness of the processes with entries on it.
"""

import contextlib
import itertools
import secrets
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis
from redis import asyncio as aioredis

SNAPSHOT_LIMIT = 100
REDIS_POOL_SIZE = 32
REDIS_POOL_WAIT = 30  # seconds a presence update may wait for a free connection


Gone = list[tuple[str, str, dict[str, Any]]]  # (topic key, member, info) of members that left


@dataclass(slots=True)
class Heartbeat:
    """What a heartbeat found: members of dead processes that left now, and whether this
    process had itself been taken for dead (its entries removed) on some host."""

    gone: Gone = field(default_factory=list)
    lost: bool = False


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
        # Per topic: group -> members in it, kept by add and remove so snapshots never scan.
        self.groups: dict[str, dict[str, int]] = {}

    async def join(
        self,
        key: str,
        member: str,
        info: dict[str, Any],
        conn_id: str,
        group: str | None = None,
        *,
        limit: int = SNAPSHOT_LIMIT,
        pinned: tuple[str, ...] = (),
    ) -> tuple[bool, Snapshot]:
        """`add`, then the topic's `snapshot` with the member in it."""
        first = await self.add(key, member, info, conn_id, group)
        return first, await self.snapshot(key, limit, include=member, pinned=pinned)

    async def add(self, key: str, member: str, info: dict[str, Any], conn_id: str, group: str | None = None) -> bool:
        """Records the connection; True when it is the member's first on this topic."""
        members = self.topics.setdefault(key, {})
        entry = members.get(member)
        if entry is None:
            entry = members[member] = _LocalMember(info=info, group=group)
            if group is not None:
                groups = self.groups.setdefault(key, {})
                groups[group] = groups.get(group, 0) + 1
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
        if entry.group is not None:
            groups = self.groups[key]
            groups[entry.group] -= 1
            if not groups[entry.group]:
                del groups[entry.group]
        if not members:
            del self.topics[key]
            self.groups.pop(key, None)
        return True

    async def snapshot(
        self, key: str, limit: int = SNAPSHOT_LIMIT, *, include: str | None = None, pinned: tuple[str, ...] = ()
    ) -> Snapshot:
        # What _capped chooses, without a pass over every member: each join takes a snapshot,
        # so in a storm into one topic a pass each made the storm quadratic.
        members = self.topics.get(key, {})
        chosen = [member for member in pinned if member in members]
        pinned_here = set(chosen)
        chosen += itertools.islice(
            (member for member in members if member not in pinned_here), max(0, limit - len(chosen))
        )
        chosen = chosen[:limit]
        if include is not None and include in members and include not in chosen and limit > 0:
            chosen[-1:] = [include]
        return Snapshot(
            members=[members[member].info for member in chosen],
            count=len(members),
            groups=dict(self.groups.get(key, {})),
        )

    async def count(self, key: str) -> int:
        return len(self.topics.get(key, {}))

    async def heartbeat(self) -> Heartbeat:
        """Nothing expires in-process."""
        return Heartbeat()

    async def close(self) -> None:
        self.topics.clear()


# Keys on each Redis host, under the deployment's prefix P:
#   P:procs          zset process id -> liveness deadline (Redis time), pushed back by each heartbeat
#   P:pt:<pid>       set of the topic bases where process <pid> has entries
# and per topic, under its base B = P:p:<topic key>:
#   B:m              zset member -> time it arrived (so lists keep arrival order)
#   B:c:<member>     hash conn -> owning process id: the member's connections
#   B:x:<pid>        set of "conn\nmember": the entries process <pid> owns here
#   B:i              hash member -> info JSON
#   B:g, B:gc        hash member -> group, hash group -> members in it (counts never scan)
# The scripts that add and remove entries keep all of these together, so a topic nobody
# is in leaves no key behind. Only Redis' clock is used: process clocks never matter.
_LUA = r"""
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

-- Processes whose deadline passed on this host (not swept yet): pid -> true, or nil if none.
local function dead_processes(prefix, now)
  local pids = redis.call('ZRANGEBYSCORE', prefix .. ':procs', '-inf', now)
  if #pids == 0 then return nil end
  local dead = {}
  for _, pid in ipairs(pids) do dead[pid] = true end
  return dead
end

local function has_live_conn(base, member, dead)
  for _, owner in ipairs(redis.call('HVALS', base .. ':c:' .. member)) do
    if not dead[owner] then return true end
  end
  return false
end

-- Members of topic `base` whose every connection belongs to a dead process: member -> true.
local function stale_members(base, dead)
  local stale, seen, count = {}, {}, 0
  if dead == nil then return stale, 0 end
  for pid in pairs(dead) do
    for _, entry in ipairs(redis.call('SMEMBERS', base .. ':x:' .. pid)) do
      local member = string.sub(entry, string.find(entry, '\n', 1, true) + 1)
      if not seen[member] then
        seen[member] = true
        if not has_live_conn(base, member, dead) then stale[member] = true; count = count + 1 end
      end
    end
  end
  return stale, count
end

-- The member's last connection went: forget it; returns its info.
local function forget(base, member)
  redis.call('ZREM', base .. ':m', member)
  local info = redis.call('HGET', base .. ':i', member)
  redis.call('HDEL', base .. ':i', member)
  local group = redis.call('HGET', base .. ':g', member)
  if group then
    redis.call('HDEL', base .. ':g', member)
    if redis.call('HINCRBY', base .. ':gc', group, -1) <= 0 then redis.call('HDEL', base .. ':gc', group) end
  end
  return info
end

-- ARGV from `first`: ttl, member, conn, info, group. Returns 1 when the member's first connection.
local function add(base, prefix, pid, now, first)
  local member, conn, group = ARGV[first + 1], ARGV[first + 2], ARGV[first + 4]
  -- A process is alive from its first entry on (again after a Redis restart); heartbeats keep it.
  redis.call('ZADD', prefix .. ':procs', 'NX', now + tonumber(ARGV[first]), pid)
  redis.call('SADD', base .. ':x:' .. pid, conn .. '\n' .. member)
  redis.call('SADD', prefix .. ':pt:' .. pid, base)
  local conns = base .. ':c:' .. member
  local added = redis.call('HSET', conns, conn, pid)
  if redis.call('ZADD', base .. ':m', 'NX', now, member) == 1 and group ~= '' then
    redis.call('HSET', base .. ':g', member, group)
    redis.call('HINCRBY', base .. ':gc', group, 1)
  end
  redis.call('HSET', base .. ':i', member, ARGV[first + 3])
  if added == 1 and redis.call('HLEN', conns) == 1 then return 1 end
  return 0
end

-- ARGV from `first`: limit, then members to look up even past the limit (pinned ones, the joiner).
-- Returns {count, members, their infos, wanted infos (false when absent), group counts}.
local function snapshot(base, prefix, now, first)
  local stale, nstale = stale_members(base, dead_processes(prefix, now))
  local limit = tonumber(ARGV[first])
  local members = {}
  if limit > 0 then
    for _, member in ipairs(redis.call('ZRANGE', base .. ':m', 0, limit + nstale - 1)) do
      if not stale[member] and #members < limit then table.insert(members, member) end
    end
  end
  local infos = {}
  if #members > 0 then infos = redis.call('HMGET', base .. ':i', unpack(members)) end
  local wanted = {}
  for i = first + 1, #ARGV do
    wanted[i - first] = (not stale[ARGV[i]]) and redis.call('HGET', base .. ':i', ARGV[i]) or false
  end
  local groups = redis.call('HGETALL', base .. ':gc')
  if nstale > 0 then
    local index = {}
    for i = 1, #groups, 2 do index[groups[i]] = i + 1 end
    for member in pairs(stale) do
      local group = redis.call('HGET', base .. ':g', member)
      if group and index[group] then groups[index[group]] = tonumber(groups[index[group]]) - 1 end
    end
  end
  return {redis.call('ZCARD', base .. ':m') - nstale, members, infos, wanted, groups}
end
"""

# KEYS[1]: topic base; ARGV: prefix, pid, ttl, member, conn, info, group.
_ADD = _LUA + "return add(KEYS[1], ARGV[1], ARGV[2], clock(), 3)"

# The same, then the snapshot: ARGV continues with limit and the wanted members.
_JOIN = (
    _LUA
    + """
local now = clock()
return {add(KEYS[1], ARGV[1], ARGV[2], now, 3), snapshot(KEYS[1], ARGV[1], now, 8)}
"""
)

# KEYS[1]: topic base; ARGV: prefix, limit, wanted members...
_SNAPSHOT = _LUA + "return snapshot(KEYS[1], ARGV[1], clock(), 2)"

# KEYS[1]: topic base; ARGV: prefix.
_COUNT = (
    _LUA
    + """
local _, nstale = stale_members(KEYS[1], dead_processes(ARGV[1], clock()))
return redis.call('ZCARD', KEYS[1] .. ':m') - nstale
"""
)

# KEYS[1]: topic base; ARGV: prefix, pid, member, conn. Returns 1 when it was the member's last connection.
_REMOVE = (
    _LUA
    + """
local base, member, conn = KEYS[1], ARGV[3], ARGV[4]
local entries = base .. ':x:' .. ARGV[2]
if redis.call('SREM', entries, conn .. '\\n' .. member) == 0 then return 0 end
if redis.call('EXISTS', entries) == 0 then redis.call('SREM', ARGV[1] .. ':pt:' .. ARGV[2], base) end
local conns = base .. ':c:' .. member
redis.call('HDEL', conns, conn)
if redis.call('EXISTS', conns) == 1 then return 0 end
forget(base, member)
return 1
"""
)

# ARGV: prefix, pid, ttl, budget. Pushes back this process's deadline, then removes up to
# `budget` entries of processes whose deadline passed. Atomic, so when several processes
# beat at once exactly one reports each departure. Returns {this process was known here,
# every dead process was swept, flat (topic base, member, info) of the members that left}.
_HEARTBEAT = (
    _LUA
    + """
local prefix, pid, budget = ARGV[1], ARGV[2], tonumber(ARGV[4])
local now = clock()
local procs = prefix .. ':procs'
local known = redis.call('ZSCORE', procs, pid) and 1 or 0
redis.call('ZADD', procs, now + tonumber(ARGV[3]), pid)
local gone = {}
for _, other in ipairs(redis.call('ZRANGEBYSCORE', procs, '-inf', now)) do
  local topics = prefix .. ':pt:' .. other
  for _, base in ipairs(redis.call('SMEMBERS', topics)) do
    local entries = base .. ':x:' .. other
    for _, entry in ipairs(redis.call('SPOP', entries, budget)) do
      budget = budget - 1
      local split = string.find(entry, '\\n', 1, true)
      local conn, member = string.sub(entry, 1, split - 1), string.sub(entry, split + 1)
      local conns = base .. ':c:' .. member
      redis.call('HDEL', conns, conn)
      if redis.call('EXISTS', conns) == 0 then
        local info = forget(base, member)
        if info then table.insert(gone, base); table.insert(gone, member); table.insert(gone, info) end
      end
    end
    if budget <= 0 then return {known, 0, gone} end
    redis.call('SREM', topics, base)
  end
  redis.call('ZREM', procs, other)
end
return {known, 1, gone}
"""
)

# ARGV: prefix, pid. A stopping process with no entries left on this host leaves nothing behind.
_RETIRE = """
if redis.call('EXISTS', ARGV[1] .. ':pt:' .. ARGV[2]) == 0 then redis.call('ZREM', ARGV[1] .. ':procs', ARGV[2]) end
return 1
"""

# KEYS[1]: topic base; ARGV: prefix, members... Returns 1 or 0 for each member.
_PRESENT = (
    _LUA
    + """
local base = KEYS[1]
local dead = dead_processes(ARGV[1], clock())
local members = {}
for i = 2, #ARGV do members[i - 1] = ARGV[i] end
if dead == nil then
  local found = {}
  for i, score in ipairs(redis.call('ZMSCORE', base .. ':m', unpack(members))) do found[i] = score and 1 or 0 end
  return found
end
local found = {}
for i, member in ipairs(members) do found[i] = has_live_conn(base, member, dead) and 1 or 0 end
return found
"""
)

# Entries of dead processes one heartbeat script removes at most (a process with a
# hundred thousand connections is swept over several calls, not in one long one).
SWEEP_BUDGET = 2000


def redis_urls(urls: str | Sequence[str]) -> list[str]:
    """One URL, a comma-separated list of them, or a sequence: the Redis hosts."""
    listed = urls.split(",") if isinstance(urls, str) else list(urls)
    return [url.strip() for url in listed if url.strip()]


def shard_index(key: str, hosts: int) -> int:
    """The host (of `hosts`) that keeps topic `key`'s presence: the same in every process."""
    return zlib.crc32(key.encode()) % hosts if hosts > 1 else 0


class RedisPresence:
    """Presence shared by every server process through Redis; see the module docstring."""

    def __init__(self, urls: str | Sequence[str], ttl: int, prefix: str = "rt") -> None:
        # A blocking pool per host: a thousand joins at once wait for a connection instead of
        # failing with MaxConnectionsError (redis-py's default pool raises at its limit).
        self.hosts = [
            aioredis.Redis(
                connection_pool=aioredis.BlockingConnectionPool.from_url(
                    url, max_connections=REDIS_POOL_SIZE, timeout=REDIS_POOL_WAIT, socket_timeout=None
                )
            )
            for url in redis_urls(urls)
        ]
        if not self.hosts:
            raise ValueError("RedisPresence needs at least one Redis URL")
        self.ttl = ttl
        self.prefix = prefix
        # This process's id in Redis: its entries carry it and its heartbeat keeps it alive.
        self.process_id = secrets.token_hex(8)
        self._registered: set[int] = set()  # hosts this process has had entries on
        first = self.hosts[0]
        self._add = first.register_script(_ADD)
        self._join = first.register_script(_JOIN)
        self._remove = first.register_script(_REMOVE)
        self._snapshot = first.register_script(_SNAPSHOT)
        self._count = first.register_script(_COUNT)
        self._heartbeat = first.register_script(_HEARTBEAT)
        self._retire = first.register_script(_RETIRE)

    def _base(self, key: str) -> str:
        return f"{self.prefix}:p:{key}"

    def _host(self, key: str) -> tuple[int, aioredis.Redis]:
        index = shard_index(key, len(self.hosts))
        return index, self.hosts[index]

    async def add(self, key: str, member: str, info: dict[str, Any], conn_id: str, group: str | None = None) -> bool:
        """Records the connection; True when it is the member's first on this topic."""
        index, host = self._host(key)
        first = await self._add(
            keys=[self._base(key)],
            args=[self.prefix, self.process_id, self.ttl, member, conn_id, orjson.dumps(info), group or ""],
            client=host,
        )
        self._registered.add(index)
        return bool(first)

    async def join(
        self,
        key: str,
        member: str,
        info: dict[str, Any],
        conn_id: str,
        group: str | None = None,
        *,
        limit: int = SNAPSHOT_LIMIT,
        pinned: tuple[str, ...] = (),
    ) -> tuple[bool, Snapshot]:
        """`add`, then the topic's `snapshot` with the member in it: one round trip."""
        index, host = self._host(key)
        wanted = list(pinned)  # the joiner is there: its info is the one just written
        first, snapshot = await self._join(
            keys=[self._base(key)],
            args=[
                self.prefix,
                self.process_id,
                self.ttl,
                member,
                conn_id,
                orjson.dumps(info),
                group or "",
                limit,
                *wanted,
            ],
            client=host,
        )
        self._registered.add(index)
        return bool(first), self._parse_snapshot(snapshot, wanted, limit, member, pinned, (member, info))

    async def remove(self, key: str, member: str, conn_id: str) -> bool:
        """Forgets the connection; True when it was the member's last on this topic."""
        _, host = self._host(key)
        return bool(
            await self._remove(
                keys=[self._base(key)], args=[self.prefix, self.process_id, member, conn_id], client=host
            )
        )

    async def snapshot(
        self, key: str, limit: int = SNAPSHOT_LIMIT, *, include: str | None = None, pinned: tuple[str, ...] = ()
    ) -> Snapshot:
        _, host = self._host(key)
        wanted = [*pinned, *([include] if include is not None else [])]
        flat = await self._snapshot(keys=[self._base(key)], args=[self.prefix, limit, *wanted], client=host)
        return self._parse_snapshot(flat, wanted, limit, include, pinned)

    @staticmethod
    def _parse_snapshot(
        flat: list[Any],
        wanted: list[str],
        limit: int,
        include: str | None,
        pinned: tuple[str, ...],
        joiner: tuple[str, dict[str, Any]] | None = None,
    ) -> Snapshot:
        count, members, infos, wanted_infos, flat_groups = flat
        found = {member.decode(): orjson.loads(info) for member, info in zip(members, infos, strict=True) if info}
        order = list(found)
        for member, info in zip(wanted, wanted_infos, strict=True):
            if info:
                found[member] = orjson.loads(info)
        if joiner is not None:
            found.setdefault(*joiner)
        groups = {
            flat_groups[i].decode(): int(flat_groups[i + 1])
            for i in range(0, len(flat_groups), 2)
            if int(flat_groups[i + 1]) > 0
        }
        return Snapshot(members=_capped(order, found, limit, include, pinned), count=int(count), groups=groups)

    async def count(self, key: str) -> int:
        _, host = self._host(key)
        return int(await self._count(keys=[self._base(key)], args=[self.prefix], client=host))

    async def heartbeat(self) -> Heartbeat:
        """Keeps this process alive on every host and removes the entries of dead processes,
        returning the members that left with them."""
        beat = Heartbeat()
        start = len(self.prefix) + 3  # a topic base is "<prefix>:p:<key>"
        for index, host in enumerate(self.hosts):
            swept = False
            while not swept:
                known, swept, flat = await self._heartbeat(
                    args=[self.prefix, self.process_id, self.ttl, SWEEP_BUDGET], client=host
                )
                if not known and index in self._registered:
                    beat.lost = True
                beat.gone += [
                    (flat[i].decode()[start:], flat[i + 1].decode(), orjson.loads(flat[i + 2]))
                    for i in range(0, len(flat), 3)
                ]
        return beat

    async def server_run_id(self) -> str:
        """The Redis servers' run ids: they change when a Redis restarts (having lost everything)."""
        infos = [await host.info("server") for host in self.hosts]
        return ",".join(str(info["run_id"]) for info in infos)

    async def close(self) -> None:
        for index in self._registered:
            # Unreachable: the deadline passes and a heartbeat elsewhere cleans up instead.
            with contextlib.suppress(redis.RedisError):
                await self._retire(args=[self.prefix, self.process_id], client=self.hosts[index])
        for host in self.hosts:
            await host.aclose()
            await host.connection_pool.disconnect()

    _sync_hosts: dict[str, tuple[redis.Redis, Any]] = {}

    @classmethod
    def present_sync(cls, urls: str | Sequence[str], prefix: str, key: str, members: list[str]) -> set[str]:
        """The members of `key` with a live entry, read from sync code (services, REST views)."""
        hosts = redis_urls(urls)
        url = hosts[shard_index(key, len(hosts))]
        client = cls._sync_hosts.get(url)
        if client is None:
            connection = redis.Redis.from_url(url, socket_timeout=5)
            client = cls._sync_hosts[url] = (connection, connection.register_script(_PRESENT))
        _, present = client
        found = present(keys=[f"{prefix}:p:{key}"], args=[prefix, *members])
        return {member for member, flag in zip(members, found, strict=True) if flag}

    # Last in the class body: above, `redis` must still name the module.
    @property
    def redis(self) -> aioredis.Redis:
        """The first host's client (the first of REDIS_URL, which also holds the cache): for
        small shared state that is not sharded, such as the user cache's generations."""
        return self.hosts[0]
