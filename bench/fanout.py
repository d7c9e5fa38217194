"""First fan-out measurement: server CPU per delivery with N subscribers in one topic.

Starts one daphne process on a fresh SQLite database (plus Redis when --redis is given),
connects N subscribers to one topic, publishes M events through a publisher
connection, and reports server CPU (user+system, from /proc) per delivered event,
deliveries/s and lost or duplicated deliveries. Usage:

    .venv/bin/python bench/fanout.py --subscribers 1000 --messages 200 [--redis redis://127.0.0.1:6379/0]
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))


async def subscriber(url: str, topic: str, seen: list[int], ready: asyncio.Event, counter: list[int], total: int):
    async with websockets.connect(url, max_queue=None) as socket:
        await socket.recv()
        await socket.send(json.dumps({"op": "join", "ref": "j", "topic": topic}))
        async for raw in socket:
            frame = json.loads(raw)
            if frame.get("ref") == "j":
                counter[0] += 1
                if counter[0] == total:
                    ready.set()
            elif frame.get("event") == "echoed":
                seen.append(frame["seq"])


async def run(args: argparse.Namespace, url: str, pid: int) -> dict:
    topic = f"test:bench{int(time.time())}"
    ready = asyncio.Event()
    counter = [0]
    seen_per_client: list[list[int]] = [[] for _ in range(args.subscribers)]
    tasks = []
    for index in range(args.subscribers):
        tasks.append(
            asyncio.create_task(subscriber(url, topic, seen_per_client[index], ready, counter, args.subscribers))
        )
        if index % 100 == 99:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(ready.wait(), 120)
    idle_rss = rss_kib(pid)
    await asyncio.sleep(1.0)  # let presence diffs settle
    publisher = await websockets.connect(url)
    await publisher.recv()
    await publisher.send(json.dumps({"op": "join", "ref": "j", "topic": topic}))
    while json.loads(await publisher.recv()).get("ref") != "j":
        pass
    expected = args.subscribers * args.messages
    profiler = None
    if os.environ.get("BENCH_PROFILE"):
        import subprocess

        profiler = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/py-spy"),
                "record",
                "-p",
                str(pid),
                "-o",
                os.environ["BENCH_PROFILE"],
                "-f",
                "raw",
                "-r",
                "200",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await asyncio.sleep(1)
    cpu_before, started = cpu_seconds(pid), time.monotonic()
    for i in range(args.messages):
        await publisher.send(
            json.dumps(
                {
                    "op": "send",
                    "ref": f"m{i}",
                    "topic": topic,
                    "event": "echo",
                    "payload": {"text": f"message {i}", "sent_at": time.time()},
                }
            )
        )
    deadline = time.monotonic() + 120
    while sum(len(seen) for seen in seen_per_client) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu_before
    if profiler is not None:
        profiler.send_signal(2)
        profiler.wait()
    delivered = sum(len(seen) for seen in seen_per_client)
    duplicates = sum(len(seen) - len(set(seen)) for seen in seen_per_client)
    await publisher.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "subscribers": args.subscribers,
        "messages": args.messages,
        "expected_deliveries": expected,
        "delivered": delivered,
        "lost": expected - (delivered - duplicates),
        "duplicated": duplicates,
        "seconds": round(elapsed, 3),
        "deliveries_per_second": round(delivered / elapsed),
        "server_cpu_seconds": round(cpu, 3),
        "server_cpu_us_per_delivery": round(cpu / max(delivered, 1) * 1e6, 2),
        "server_rss_kib_with_idle_subscribers": idle_rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--redis", default=None, help="REDIS_URL for the server (default: in-memory layer)")
    parser.add_argument("--server", choices=["daphne", "uvicorn"], default="daphne")
    args = parser.parse_args()

    import subprocess

    from tests.e2e.servers import free_port

    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
        "REALTIME_RATE": "100000/100000",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    if args.redis:
        env["REDIS_URL"] = args.redis
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    log = (workdir / "server.log").open("wb")
    command = {
        "daphne": ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--verbosity", "0"],
        "uvicorn": [
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
    }[args.server]
    server = subprocess.Popen(
        [sys.executable, *command, "tests.e2e.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(2)
        result = asyncio.run(run(args, f"ws://127.0.0.1:{port}/ws/", server.pid))
        result["channel_layer"] = "redis pub/sub" if args.redis else "in-memory"
        result["server"] = args.server
        print(json.dumps(result, indent=2))
    finally:
        server.kill()


if __name__ == "__main__":
    main()
