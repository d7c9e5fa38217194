"""The `sse` scenario: the HTTP transport next to WebSocket on one uvicorn process.

    .venv/bin/python bench/sse.py [--idle 500] [--events 50]

Measures, for each transport, the server's resident memory per idle session (`--idle`
subscribers joined to one topic, then silent; WebSocket: one socket, SSE: one session with
its event stream open) and the server CPU per delivery when one publisher then sends
`--events` events to all of them. Prints one JSON object per transport.
The embedded default (no REDIS_URL); run with REDIS_URL set to measure the Redis path.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from realtime.testing import ServerProcess, free_port  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SseSubscriber:
    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url
        self.session = ""
        self.received = 0
        self.hello = asyncio.Event()
        self.joined = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self, topic: str) -> None:
        async with self.http.post(f"{self.url}/rt/session") as response:
            self.session = (await response.json())["session"]
        self.task = asyncio.ensure_future(self._read())
        await self.hello.wait()
        body = json.dumps([{"op": "join", "ref": "j", "topic": topic}])
        async with self.http.post(
            f"{self.url}/rt/send?session={self.session}", data=body, headers={"Content-Type": "text/plain"}
        ) as response:
            assert response.status == 202
        await self.joined.wait()

    async def _read(self) -> None:
        async with self.http.get(f"{self.url}/rt/events?session={self.session}") as response:
            async for raw in response.content:
                if not raw.startswith(b"data: "):
                    continue
                frame = json.loads(raw[6:])
                if frame.get("op") == "hello":
                    self.hello.set()
                elif frame.get("ref") == "j":
                    self.joined.set()
                elif frame.get("op") == "event" and frame.get("event") == "echoed":
                    self.received += 1


class WsSubscriber:
    def __init__(self, url: str) -> None:
        self.url = url
        self.received = 0
        self.task: asyncio.Task[None] | None = None

    async def start(self, topic: str) -> None:
        self.socket = await websockets.connect(self.url.replace("http", "ws") + "/ws/", max_queue=None)
        await self.socket.recv()  # hello
        await self.socket.send(json.dumps({"op": "join", "ref": "j", "topic": topic}))
        while json.loads(await self.socket.recv()).get("ref") != "j":
            pass
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for raw in self.socket:
            frame = json.loads(raw)
            if frame.get("op") == "event" and frame.get("event") == "echoed":
                self.received += 1


async def measure(transport: str, server: ServerProcess, idle: int, events: int) -> dict:
    assert server.process is not None
    pid = server.process.pid
    topic = f"test:bench{transport}"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.sleep(1)
        before = rss_kib(pid)
        clients = [
            SseSubscriber(http, server.url) if transport == "sse" else WsSubscriber(server.url) for _ in range(idle)
        ]
        for start in range(0, idle, 50):
            await asyncio.gather(*(client.start(topic) for client in clients[start : start + 50]))
        await asyncio.sleep(2)
        after = rss_kib(pid)
        publisher = await websockets.connect(server.url.replace("http", "ws") + "/ws/")
        await publisher.recv()
        await publisher.send(json.dumps({"op": "join", "ref": "j", "topic": topic}))
        while json.loads(await publisher.recv()).get("ref") != "j":
            pass
        cpu_before = cpu_seconds(pid)
        started = time.monotonic()
        for n in range(events):
            payload = {"text": str(n)}
            await publisher.send(
                json.dumps({"op": "send", "ref": f"e{n}", "topic": topic, "event": "echo", "payload": payload})
            )
            while json.loads(await publisher.recv()).get("ref") != f"e{n}":
                pass
            await asyncio.sleep(0.1)  # under the rate limit (20 burst, 10/s)
        deadline = time.monotonic() + 30
        while sum(c.received for c in clients) < events * idle and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
        deliveries = sum(c.received for c in clients)
        cpu = cpu_seconds(pid) - cpu_before
        await publisher.close()
        for client in clients:
            if client.task:
                client.task.cancel()
    return {
        "scenario": "sse",
        "transport": transport,
        "idle_sessions": idle,
        "rss_kib_per_idle_session": round((after - before) / idle, 1),
        "deliveries": deliveries,
        "expected": events * idle,
        "server_cpu_us_per_delivery": round(cpu / max(1, deliveries) * 1e6, 1),
        "seconds": round(elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--events", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/bench.sqlite3"
        env = {**os.environ, "DATABASE_URL": database, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1"}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        for transport in ("websocket", "sse"):
            server = ServerProcess(free_port(), Path(tmp), {"DATABASE_URL": database}, transport, "uvicorn")
            server.start()
            try:
                result = asyncio.run(measure(transport, server, args.idle, args.events))
                print(json.dumps(result))
            finally:
                server.kill()


if __name__ == "__main__":
    main()
