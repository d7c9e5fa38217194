"""Redis commands per connect + join, per idle connection per second and per published event.

Two uvicorn processes (as `bench/run.py` starts them) share a private redis-server and a
seeded SQLite database; N authenticated clients connect (token on the URL), half to each
process, and join one chat channel. Redis' `INFO commandstats` is reset before each phase
and read after it, so each figure counts only that phase:

1. connect + join: the N clients connect and join one after another (the presence diffs
   they cause are published before the phase ends);
2. idle: nothing happens for `--idle` seconds (the processes' presence upkeep runs);
3. publish: one client sends `--messages` chat messages, each after the previous reply;
   the figures per event subtract the idle rate over the phase.

Commands run inside Lua scripts count as commands (that is Redis' work, and Redis 7
counts them in commandstats); EVALSHA is one client round trip each, and `script_us` the
time Redis spent in scripts. `redis_cpu_us` is Redis' whole CPU time (INFO cpu), its
idle housekeeping included. `INFO` is part of the figures: each process looks at Redis
once a second to notice outages.

    .venv/bin/python bench/redis_commands.py --connections 100 --idle 30 --messages 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
import servers  # bench/ is not a package: run.py imports it the same way


def commandstats(client: redis.Redis) -> tuple[dict[str, int], int]:
    """Calls per command, and the microseconds Redis spent in scripts (EVALSHA's own time covers
    the commands it runs)."""
    stats: dict[str, Any] = client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}
    return calls, int(stats.get("cmdstat_evalsha", {}).get("usec", 0))


class Meter:
    """Commands run by one Redis between `start()` and `stop()`."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.started = 0.0
        self.cpu_before = 0.0

    def cpu(self) -> float:
        info: dict[str, Any] = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def start(self) -> None:
        self.client.config_resetstat()
        self.started = time.monotonic()
        self.cpu_before = self.cpu()

    def stop(self) -> dict[str, Any]:
        seconds = time.monotonic() - self.started
        stats, script_us = commandstats(self.client)
        # CONFIG RESETSTAT is ours (this INFO is not counted yet; the servers' INFO calls are).
        stats.pop("config|resetstat", None)
        cpu = self.cpu() - self.cpu_before
        return {
            "seconds": seconds,
            "commands": sum(stats.values()),
            "redis_cpu_us": cpu * 1e6,
            "script_us": script_us,
            "by_command": stats,
        }


async def connect(url: str, token: str) -> Any:
    socket = await websockets.connect(f"{url}?token={token}", max_size=None, open_timeout=30)
    hello = json.loads(await asyncio.wait_for(socket.recv(), 30))
    assert hello["op"] == "hello", hello
    return socket


async def request(socket: Any, frame: dict[str, Any]) -> dict[str, Any]:
    await socket.send(json.dumps(frame))
    while True:
        reply = json.loads(await asyncio.wait_for(socket.recv(), 30))
        if reply.get("op") == "reply" and reply.get("ref") == frame["ref"]:
            if not reply.get("ok"):
                raise RuntimeError(f"{frame['op']} failed: {reply}")
            return reply


async def drain(socket: Any) -> None:
    """Reads what the server sent (presence diffs, events) so nothing piles up."""
    try:
        while True:
            await socket.recv()
    except (websockets.ConnectionClosed, asyncio.CancelledError):
        return


def per(figures: dict[str, Any], divisor: float) -> dict[str, Any]:
    return {
        "commands": round(figures["commands"] / divisor, 2),
        "redis_cpu_us": round(figures["redis_cpu_us"] / divisor, 1),
        "script_us": round(figures["script_us"] / divisor, 1),
        "by_command": {name: round(calls / divisor, 3) for name, calls in sorted(figures["by_command"].items())},
    }


async def measure(args: argparse.Namespace, urls: list[str], seed: dict[str, Any], meter: Meter) -> dict[str, Any]:
    channel = seed["fanout"][str(args.connections)]["channel"]
    topic = f"chat:{channel}"
    tokens = [seed["users"][index]["token"] for index in seed["fanout"][str(args.connections)]["users"]]
    # Warm both processes (their hubs start on the first connection) outside the phases.
    warm = [await connect(url, seed["publisher"]["token"]) for url in urls]
    await asyncio.sleep(2)

    meter.start()
    sockets = []
    for index, token in enumerate(tokens):
        socket = await connect(urls[index % len(urls)], token)
        await request(socket, {"op": "join", "ref": "j", "topic": topic})
        sockets.append(socket)
    readers = [asyncio.create_task(drain(socket)) for socket in sockets]
    await asyncio.sleep(1.5)  # the coalesced presence diffs go out
    joins = meter.stop()

    await asyncio.sleep(1)
    meter.start()
    await asyncio.sleep(args.idle)
    idle = meter.stop()

    publisher = warm[0]
    await request(publisher, {"op": "join", "ref": "pj", "topic": topic})
    await asyncio.sleep(1.5)
    meter.start()
    for number in range(args.messages):
        frame = {
            "op": "send",
            "ref": f"m{number}",
            "topic": topic,
            "event": "message.create",
            "payload": {"body": f"message {number}", "client_id": f"bench-{time.time_ns()}-{number}"},
        }
        await request(publisher, frame)
    await asyncio.sleep(0.5)
    published = meter.stop()
    idle_rate = idle["commands"] / idle["seconds"]
    idle_cpu = idle["redis_cpu_us"] / idle["seconds"]
    published_net = {
        **published,
        "commands": published["commands"] - idle_rate * published["seconds"],
        "redis_cpu_us": published["redis_cpu_us"] - idle_cpu * published["seconds"],
    }

    for task in readers:
        task.cancel()
    for socket in [*sockets, *warm]:
        await socket.close()
    return {
        "connections": args.connections,
        "processes": len(urls),
        "connect_join_per_connection": per(joins, args.connections),
        "idle_seconds": round(idle["seconds"], 1),
        "idle_per_second": per(idle, idle["seconds"]),
        "idle_per_connection_per_second": per(idle, idle["seconds"] * args.connections),
        "publish_per_event": per(published_net, args.messages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of the idle phase")
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here too")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="redis-commands-"))
    redis_server = servers.Redis(workdir)
    database = servers.Database("sqlite", workdir, "")
    started: list[servers.Process] = []
    try:
        seed_path = workdir / "seed.json"
        database.prepare(["--fanout", str(args.connections), "--chat", "0x0"], seed_path)
        seed = json.loads(seed_path.read_text())
        database_url = database.clone("run")
        for number in range(args.processes):
            started.append(
                servers.start_ours(
                    "uvicorn", servers.free_port(), database_url, workdir, None, redis_server.url, f"uvicorn{number}"
                )
            )
        urls = [f"ws://127.0.0.1:{process.port}/ws/" for process in started]
        client = redis.Redis.from_url(redis_server.url)
        result = asyncio.run(measure(args, urls, seed, Meter(client)))
        client.close()
        for process in started:
            errors = process.log_errors()
            if errors["count"]:
                result.setdefault("server_errors", {})[process.name] = errors
    finally:
        for process in started:
            process.stop()
        redis_server.stop()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
