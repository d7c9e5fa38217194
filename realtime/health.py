"""Health checks of the realtime core's shared backends: the channel layer and presence.

Each check returns `{"ok": bool, "backend": str, ...}`: with Redis a real round trip
(PING) and its time in `ms`, or `error`, a short text without credentials, when it
fails; in-process backends (the in-memory layer, local presence) have nothing that can
fail apart from the process itself, so they are ok and name their kind. Settings are
read on every call. A check never raises.

The PINGs go through small clients of this module's own, one per Redis host and event
loop, kept between checks: the layer's and presence's own pools wait without a socket
timeout (redis-py 8 would otherwise drop idle subscribers), so a PING through them
could hang, and a probe must not wait for a free connection behind real traffic.
"""

import asyncio
import re
import time
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

# Seconds to connect and to read the reply; no retries, so a dead Redis fails at once.
REDIS_TIMEOUT = 1.0
ERROR_TEXT_LIMIT = 200
IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"

Result = dict[str, Any]

_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]]" = (
    weakref.WeakKeyDictionary()
)
_CREDENTIALS = re.compile(r"(\w+://)[^/@\s]*@")


def error_text(error: BaseException) -> str:
    """`Type: message` on one line, with any `scheme://user:password@` credentials removed."""
    message = " ".join(str(error).split())
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return _CREDENTIALS.sub(r"\1***@", text)[:ERROR_TEXT_LIMIT]


def _probe_options() -> dict[str, Any]:
    return {
        "socket_timeout": REDIS_TIMEOUT,
        "socket_connect_timeout": REDIS_TIMEOUT,
        "retry": Retry(NoBackoff(), 0),
    }


def _client(key: str, make: Callable[[], aioredis.Redis]) -> aioredis.Redis:
    # redis.asyncio connections belong to the loop that opened them: one set per loop.
    clients = _clients.setdefault(asyncio.get_running_loop(), {})
    client = clients.get(key)
    if client is None:
        client = clients[key] = make()
    return client


def _layer_host_client(host: dict[str, Any]) -> aioredis.Redis:
    # channels_redis' own pool factory, so every host form it accepts (URL, host/port,
    # sentinel) is checked the way the layer connects, with the probe's timeouts.
    from channels_redis.utils import create_pool

    return aioredis.Redis(connection_pool=create_pool({**host, **_probe_options()}))


async def _ping(clients: list[aioredis.Redis]) -> Result:
    started = time.perf_counter()
    outcomes = await asyncio.gather(*(client.ping() for client in clients), return_exceptions=True)
    result: Result = {"ok": True, "backend": "redis", "ms": round((time.perf_counter() - started) * 1000, 1)}
    failures = [(index, outcome) for index, outcome in enumerate(outcomes) if isinstance(outcome, BaseException)]
    if failures:
        index, error = failures[0]
        where = f"host {index + 1} of {len(clients)}: " if len(clients) > 1 else ""
        result.update(ok=False, error=where + error_text(error))
    return result


async def channel_layer_check() -> Result:
    """The default channel layer: each Redis host answers a PING (in-memory: ok, nothing to check)."""
    config = getattr(settings, "CHANNEL_LAYERS", {}).get("default")
    if not config:
        return {"ok": False, "backend": "none", "error": "CHANNEL_LAYERS has no default layer"}
    backend = config.get("BACKEND", "")
    if backend == IN_MEMORY_LAYER:
        return {"ok": True, "backend": "memory"}
    if not backend.startswith("channels_redis."):
        return {"ok": True, "backend": backend}
    try:
        from channels_redis.utils import decode_hosts

        hosts = decode_hosts(config.get("CONFIG", {}).get("hosts"))
        clients = [_client(f"layer:{sorted(host.items())!r}", partial(_layer_host_client, host)) for host in hosts]
    except Exception as error:
        return {"ok": False, "backend": "redis", "error": error_text(error)}
    return await _ping(clients)


async def presence_check() -> Result:
    """Presence: each Redis host of REDIS_URL answers a PING (without REDIS_URL, in-process: ok)."""
    urls = settings.REDIS_URLS
    if not urls:
        return {"ok": True, "backend": "local"}
    try:
        clients = [_client(f"url:{url}", partial(aioredis.Redis.from_url, url, **_probe_options())) for url in urls]
    except Exception as error:
        return {"ok": False, "backend": "redis", "error": error_text(error)}
    return await _ping(clients)


async def close_clients() -> None:
    """Closes the running loop's check clients (a server's loop keeps them for its life; tests close them)."""
    for client in _clients.pop(asyncio.get_running_loop(), {}).values():
        await client.aclose(close_connection_pool=True)
