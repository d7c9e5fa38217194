"""The benchmark suite: our realtime server (daphne and uvicorn) against Socket.IO 4.

One command starts everything it needs on 127.0.0.1 (a seeded SQLite file or PostgreSQL
database, Redis, our server processes, the Socket.IO peer in bench/peers/ and the load
generator's worker processes), runs the scenarios, stops what it started, prints a
markdown table and writes JSON (bench/README.md explains every figure):

    .venv/bin/python bench/run.py [--quick] [--servers daphne,uvicorn]
                                  [--scenarios fanout,chat,storm,redis,share,upload]
                                  [--db sqlite|postgres] [--out bench/results/<timestamp>.json]

Scenarios, each run on every chosen server and on the peer:
- fanout: N subscribers (100, 1,000, 5,000) in one chat channel; a publisher sends
  `message.create` (persisted). A fixed-rate phase at 1,000 deliveries/s for latency,
  then a burst phase (as fast as replies come back) for maximum deliveries/s.
- chat: 500 channels of 4 users; every user sends messages (each after the previous
  reply), each persisted and delivered to the channel's 4 connections.
- storm: N clients connect at once (at most 500 handshakes in flight); connections/s and server
  memory per idle connection.
- redis: subscribers on two server processes sharing Redis, publisher on one; compared
  with one process on the same Redis.
- share: 1,000 anonymous viewers join one `share:<token>` at once, then its owner records
  progress (`progress.publish`, persisted) at 10/s: join time, `room.updated` frames per
  viewer (coalesced), progress latency and losses. Ours only (the peer has no such room).
- upload: one client uploads 64 MiB (16 with --quick) over tus in 1 MiB PATCHes while a
  watcher follows `upload:<id>`: MB/s, progress events, server CPU per MiB and per event
  (bench/upload.py). Ours only.

Figures that compare servers are server CPU time per delivery and ratios taken in this
run; absolute rates depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent))

import servers
import upload as upload_scenario
from loadgen import LoadGenerator

ROOT = Path(__file__).resolve().parents[1]
PEER = "socketio"


class Config(TypedDict):
    """Sizes and durations of one mode (FULL or QUICK); written to the JSON as `config`."""

    fanout_sizes: list[int]
    fixed_rate: int
    fixed_seconds: float
    fixed_min_messages: int
    burst_deliveries: int
    burst_min_messages: int
    burst_max_seconds: float
    chat_channels: int
    chat_members: int
    chat_messages: int
    chat_max_seconds: float
    storm: int
    storm_in_flight: int
    storm_timeout: float
    redis_subscribers: int
    share_viewers: int
    share_rate: int
    share_seconds: float


class TableRow(TypedDict):
    """One row of the markdown table (and of the JSON's `table`)."""

    scenario: str
    server: str
    figure: str
    ours: Any  # a number, or a text such as "0 / 0"
    socketio: Any
    ratio: float | None
    target: str
    met: str


FULL: Config = {
    "fanout_sizes": [100, 1000, 5000],
    "fixed_rate": 1000,  # deliveries/s in the fixed-rate phase
    "fixed_seconds": 8,
    "fixed_min_messages": 3,
    "burst_deliveries": 300_000,  # the burst sends up to this many deliveries' worth of messages...
    "burst_min_messages": 20,
    "burst_max_seconds": 8,  # ...or stops sending after this long
    "chat_channels": 500,
    "chat_members": 4,
    "chat_messages": 3,  # per user, each after the reply to the previous one...
    "chat_max_seconds": 10,  # ...none started after this long
    "storm": 5000,
    # All storm clients start at once, with at most this many handshakes in flight (all load
    # generator processes together), so that the kernel's accept queue of uvicorn (2,048) and
    # Node (511) does not overflow: the figure is the server's pace, not TCP's retry timers
    # (daphne listens with a backlog of 50 and overflows anyway; see `kernel` in the JSON).
    "storm_in_flight": 500,
    "storm_timeout": 60,  # a client that has no hello after this long counts as failed
    "redis_subscribers": 1000,
    "share_viewers": 1000,
    "share_rate": 10,  # progress.publish per second by the owner
    "share_seconds": 10,
}
QUICK: Config = {
    **FULL,
    "fanout_sizes": [100, 300],
    "fixed_seconds": 2,
    "burst_deliveries": 30_000,
    "burst_min_messages": 10,
    "burst_max_seconds": 2,
    "chat_channels": 25,
    "chat_messages": 5,
    "chat_max_seconds": 3,
    "storm": 300,
    "redis_subscribers": 100,
    "share_viewers": 200,
    "share_seconds": 3,
}
PHASE_CODES: dict[str, int] = {}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def phase_code(name: str) -> int:
    return PHASE_CODES.setdefault(name, len(PHASE_CODES) + 1)


# -- measuring ---------------------------------------------------------------------------


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle, machine-wide (to see other load on the machine)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / servers.CLOCK_TICKS


class Meter:
    """CPU time over a phase: our servers, the services they use (Redis, PostgreSQL backends),
    the load generator, and the whole machine (what is left is other load on the machine)."""

    def __init__(self, bench: Bench, procs: list[servers.Process], services: Sequence[servers.Process] = ()) -> None:
        assert bench.loadgen is not None  # Bench.setup() started it before any run
        self.bench = bench
        self.loadgen = bench.loadgen
        self.procs = procs
        self.services = list(services)

    def _service_cpu(self) -> dict[int, float]:
        cpu = {proc.pid: proc.cpu_seconds() for proc in self.services}
        database = self.bench.database
        if database is not None:
            cpu.update(database.backend_cpu())
        return cpu

    def snapshot(self) -> dict[str, Any]:
        return {
            "time": time.time(),
            "server": sum(proc.cpu_seconds() for proc in self.procs),
            "services": self._service_cpu(),
            "loadgen": sum(servers.cpu_seconds(pid) for pid in self.loadgen.pids),
            "machine": machine_busy_seconds(),
        }

    @staticmethod
    def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
        spent = {key: after[key] - before[key] for key in ("time", "server", "loadgen", "machine")}
        # Database backends come and go; one that ended during the phase is not counted.
        spent["services"] = sum(cpu - before["services"].get(pid, 0.0) for pid, cpu in after["services"].items())
        spent["other"] = max(0.0, spent["machine"] - spent["server"] - spent["services"] - spent["loadgen"])
        return spent

    def wait_quiet(self, limit: float = 30, window: float = 0.5, below: float = 0.08) -> float:
        """Waits until the servers use under `below` of a core (presence, online signals settle)."""
        started = time.monotonic()
        while time.monotonic() - started < limit:
            before = sum(proc.cpu_seconds() for proc in self.procs)
            time.sleep(window)
            if sum(proc.cpu_seconds() for proc in self.procs) - before < below * window * len(self.procs):
                break
        return time.monotonic() - started


def listen_counters() -> dict[str, int]:
    """The kernel's counters of handshakes dropped at full listen queues (/proc/net/netstat)."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    wanted = ("ListenOverflows", "ListenDrops", "TCPSynRetrans")
    counters: dict[str, int] = {}
    for header, values in zip(lines[::2], lines[1::2], strict=False):
        counters.update(
            {k: int(v) for k, v in zip(header.split()[1:], values.split()[1:], strict=False) if k in wanted}
        )
    return counters


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, math.ceil(fraction * len(values)) - 1))]


class Run:
    """One server (ours on daphne or uvicorn, or the peer) through the scenarios."""

    def __init__(self, bench: Bench, target: str) -> None:
        self.bench = bench
        self.target = target
        self.dialect = "sio" if target == PEER else "v1"
        self.config = bench.config
        assert bench.loadgen is not None  # Bench.setup() started it before any run
        self.lg = bench.loadgen
        self.receivers = list(range(1, bench.args.workers + 1))

    # -- processes -------------------------------------------------------------------

    def start(self, label: str, count: int = 1, redis_url: str | None = None) -> list[servers.Process]:
        procs = []
        database_url = None  # the peer has no database
        if self.target != PEER:
            assert self.bench.database is not None  # Bench.setup() prepared it before any run
            database_url = self.bench.database.clone(f"{self.target}_{label}")
        cpus = self.bench.server_cpus if count == 1 else None  # --pin: single server processes only
        try:
            for index in range(count):
                port = servers.free_port()
                name = f"{self.target}-{label}-{index}"
                if database_url is None:
                    procs.append(servers.start_peer(port, self.bench.logdir, cpus, redis_url, name))
                else:
                    procs.append(
                        servers.start_ours(
                            self.target,
                            port,
                            database_url,
                            self.bench.logdir,
                            cpus,
                            redis_url,
                            name,
                        )
                    )
            # One client through the whole path first, so lazy imports and the hub are not measured.
            for proc in procs:
                self.connect([proc], [self.token(0)], [None], worker=self.receivers[0])
            self.close_clients()
        except BaseException:
            for proc in procs:
                proc.stop()
            raise
        return procs

    def stop(self, procs: list[servers.Process]) -> dict[str, Any]:
        """Stops the processes; returns the errors they logged (a died server ends the run)."""
        errors: dict[str, Any] = {}
        for proc in procs:
            alive = proc.alive()
            proc.stop()
            if not alive:
                raise RuntimeError(f"{proc.name} died during the run:\n{proc.log_tail()}")
            logged = proc.log_errors()
            if logged["count"]:
                errors[proc.name] = logged
                log(f"  {proc.name} logged {logged['count']} errors: {logged['exceptions'] or logged['first']}")
        return errors

    # -- clients ---------------------------------------------------------------------

    def token(self, user_index: int | None) -> str | None:
        if self.dialect == "sio":
            return None
        seed = self.bench.seed
        return seed["publisher"]["token"] if user_index is None else seed["users"][user_index]["token"]

    def topic(self, channel: int, room: str) -> str:
        return room if self.dialect == "sio" else f"chat:{channel}"

    def connect(
        self,
        procs: list[servers.Process],
        tokens: Sequence[str | None],
        topics: Sequence[str | None],
        worker: int | None = None,
        concurrency: int = 100,
        record: bool = True,
        timeout: float = 60,
        kind: str | None = None,
    ) -> dict[str, Any]:
        """Connects the clients, spread round-robin over the receiver workers (or on one worker)."""
        targets = [("127.0.0.1", proc.port) for proc in procs]
        workers = [worker] if worker is not None else self.receivers
        calls = {
            w: {
                "kind": kind or self.dialect,
                "targets": targets,
                "tokens": tokens[i :: len(workers)],
                "topics": topics[i :: len(workers)],
                "concurrency": concurrency,
                "record": record,
                "timeout": timeout,
            }
            for i, w in enumerate(workers)
        }
        results = self.lg.call_each(calls, "connect", timeout=2 * timeout + 600)
        ready = sum(r["ready"] for r in results.values())
        failed = sum(r["failed"] for r in results.values())
        if failed:
            log(f"  {failed} of {len(tokens)} clients failed to connect: {[r['failures'] for r in results.values()]}")
        started = min(r["started"] for r in results.values())
        waits = sorted(t - started for r in results.values() for t in r["ready_times"])
        return {
            "ready": ready,
            "failed": failed,
            "started": started,
            "last_ready": started + (waits[-1] if waits else 0.0),
            "joined_at": max(r["joined_at"] for r in results.values()),
            "ready_after_s": {
                "p50": round(percentile(waits, 0.5), 3),
                "p99": round(percentile(waits, 0.99), 3),
                "max": round(waits[-1], 3) if waits else math.nan,
            },
        }

    def close_clients(self) -> None:
        self.lg.call_each({w: {} for w in [0, *self.receivers]}, "close")

    def wait_deliveries(self, phase: int, expected: int, idle: float = 8, limit: float = 300) -> None:
        """Until the receivers got `expected` distinct deliveries, or nothing arrived for `idle` s."""
        got, progress_at, started = -1, time.monotonic(), time.monotonic()
        while time.monotonic() - started < limit:
            statuses = self.lg.call_each({w: {} for w in self.receivers}, "status")
            now_got = sum(s.get(phase, {}).get("unique", 0) for s in statuses.values())
            if now_got >= expected:
                return
            if now_got != got:
                got, progress_at = now_got, time.monotonic()
            elif time.monotonic() - progress_at > idle:
                return
            time.sleep(0.05)

    def collect(self, phase: int) -> dict[str, Any]:
        reports = self.lg.call_each({w: {"phase": phase} for w in self.receivers}, "report")
        latencies = array("d")
        for report in reports.values():
            latencies.frombytes(report["latencies"])
        values = sorted(latencies)
        return {
            "unique": sum(r["unique"] for r in reports.values()),
            "duplicated": sum(r["duplicated"] for r in reports.values()),
            "seq_gaps": sum(r["seq_gaps"] for r in reports.values()),
            "seq_repeats": sum(r["seq_repeats"] for r in reports.values()),
            "disconnects": sum(r["disconnects"] for r in reports.values()),
            "resumes": sum(r["resumes"] for r in reports.values()),
            "frame_errors": sum(r["frame_errors"] for r in reports.values()),
            "client_errors": [e for r in reports.values() for e in r["errors"]][:10],
            "first": min((r["first"] for r in reports.values() if r["first"]), default=0.0),
            "last": max(r["last"] for r in reports.values()),
            "latency_ms": {
                "p50": round(percentile(values, 0.50) * 1000, 2),
                "p90": round(percentile(values, 0.90) * 1000, 2),
                "p99": round(percentile(values, 0.99) * 1000, 2),
                "max": round(values[-1] * 1000, 2) if values else math.nan,
            },
        }

    def phase_result(
        self, name: str, received: dict[str, Any], expected: int, started: float, spent: dict[str, float], messages: int
    ) -> dict[str, Any]:
        delivered = received["unique"]
        seconds = max(received["last"] - started, 1e-9)
        return {
            "phase": name,
            "messages": messages,
            "expected_deliveries": expected,
            "delivered": delivered,
            "delivered_pct": round(100 * delivered / expected, 3) if expected else math.nan,
            "lost": max(0, expected - delivered),
            "duplicated": received["duplicated"],
            "seq_gaps": received["seq_gaps"],
            "seq_repeats": received["seq_repeats"],
            "disconnects": received["disconnects"],
            "resumes": received["resumes"],
            "frame_errors": received["frame_errors"],
            "client_errors": received["client_errors"],
            "seconds": round(seconds, 3),
            "deliveries_per_s": round(delivered / seconds, 1),
            "latency_ms": received["latency_ms"],
            "server_cpu_s": round(spent["server"], 3),
            "server_cpu_us_per_delivery": round(spent["server"] / max(delivered, 1) * 1e6, 2),
            "server_cpu_cores": round(spent["server"] / max(spent["time"], 1e-9), 3),
            "loadgen_cpu_cores": round(spent["loadgen"] / max(spent["time"], 1e-9), 3),
            "loadgen_cpu_us_per_delivery": round(spent["loadgen"] / max(delivered, 1) * 1e6, 2),
            "other_cpu_cores": round(spent["other"] / max(spent["time"], 1e-9), 3),
            "services_cpu_s": round(spent["services"], 3),
        }

    # -- the publish phases ----------------------------------------------------------

    def publish_phase(
        self, name: str, meter: Meter, subscribers: int, count: int, interval: float, window: int, max_seconds: float
    ) -> dict[str, Any]:
        phase = phase_code(f"{self.target}:{name}")
        first_id = phase * 10_000_000
        profiler = self.bench.profile(meter.procs[0], name) if interval == 0 and self.target != PEER else None
        before = meter.snapshot()
        call = self.lg.send(
            0,
            "publish",
            phase=phase,
            first_id=first_id,
            count=count,
            interval=interval,
            window=window,
            max_seconds=max_seconds,
        )
        dropped = 0
        if self.bench.args.drop and interval == 0:
            # --drop: cut some subscribers' TCP connections mid-burst; they must resume without loss.
            time.sleep(min(1.0, max_seconds / 4))
            per_worker = math.ceil(subscribers * self.bench.args.drop / len(self.receivers))
            dropped = sum(self.lg.call_each({w: {"count": per_worker} for w in self.receivers}, "drop").values())
        published = self.lg.wait(0, call, timeout=max_seconds + 600)
        expected = published["acked"] * subscribers
        self.wait_deliveries(phase, expected)
        after = meter.snapshot()
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=30)
        received = self.collect(phase)
        # CPU up to the last delivery (the wait above overshoots by at most one poll, or by its
        # idle timeout when deliveries are missing); cores are over the same window.
        spent = meter.diff(before, after)
        result = self.phase_result(name, received, expected, published["started"], spent, published["acked"])
        result["publish_errors"] = published["errors"]
        result["sent"] = published["sent"]
        result["dropped_connections"] = dropped
        return result

    # -- scenarios -------------------------------------------------------------------

    def fanout(self) -> list[dict[str, Any]]:
        results = []
        procs = self.start("fanout")
        try:
            meter = Meter(self.bench, procs)
            for number, size in enumerate(self.config["fanout_sizes"], 1):
                results.append(self.fanout_size(procs, meter, size))
                self.close_clients()
                if number < len(self.config["fanout_sizes"]):
                    meter.wait_quiet()
        finally:
            errors = self.stop(procs)
        for result in results:
            result["server_errors"] = errors
        return results

    def fanout_size(self, procs: list[servers.Process], meter: Meter, size: int) -> dict[str, Any]:
        config = self.config
        seed = self.bench.seed["fanout"][str(size)]
        topic = self.topic(seed["channel"], f"fanout-{size}")
        log(f"{self.target}: fanout {size}: connecting")
        connected = self.connect(procs, [self.token(i) for i in seed["users"]], [topic] * size)
        self.connect(procs[:1], [self.token(None)], [topic], worker=0, record=False)
        settle = meter.wait_quiet()
        subscribers = connected["ready"]
        rate_interval = size / config["fixed_rate"]
        fixed_count = max(config["fixed_min_messages"], round(config["fixed_seconds"] / rate_interval))
        log(f"{self.target}: fanout {size}: fixed rate, {fixed_count} messages every {rate_interval:.3f} s")
        fixed = self.publish_phase(
            f"fanout{size}-fixed",
            meter,
            subscribers,
            fixed_count,
            rate_interval,
            window=1000,
            max_seconds=config["fixed_seconds"] * 3 + 10,
        )
        meter.wait_quiet()
        burst_count = max(config["burst_min_messages"], math.ceil(config["burst_deliveries"] / size))
        log(f"{self.target}: fanout {size}: burst, up to {burst_count} messages or {config['burst_max_seconds']} s")
        burst = self.publish_phase(
            f"fanout{size}-burst",
            meter,
            subscribers,
            burst_count,
            0,
            window=16,
            max_seconds=config["burst_max_seconds"],
        )
        return {
            "scenario": f"fanout-{size}",
            "server": self.target,
            "subscribers": subscribers,
            "connect": {
                **connected,
                "seconds": round(connected["joined_at"] - connected["started"], 3),
                "settle_seconds": round(settle, 2),
            },
            "fixed": fixed,
            "burst": burst,
        }

    def chat(self) -> list[dict[str, Any]]:
        config = self.config
        channels = self.bench.seed["chat"]
        procs = self.start("chat")
        try:
            meter = Meter(self.bench, procs)
            tokens, topics = [], []
            for number, channel in enumerate(channels):
                for user in channel["users"]:
                    tokens.append(self.token(user))
                    topics.append(self.topic(channel["channel"], f"chat-{number}"))
            log(f"{self.target}: chat: connecting {len(tokens)} users in {len(channels)} channels")
            connected = self.connect(procs, tokens, topics)
            meter.wait_quiet()
            phase = phase_code(f"{self.target}:chat")
            log(f"{self.target}: chat: every user sends {config['chat_messages']} messages")
            before = meter.snapshot()
            calls = {
                w: {
                    "phase": phase,
                    "id_base": phase * 10_000_000 + w * 1_000_000,
                    "per_client": config["chat_messages"],
                    "max_seconds": config["chat_max_seconds"],
                }
                for w in self.receivers
            }
            sent = self.lg.call_each(calls, "chat")
            acked = sum(r["acked"] for r in sent.values())
            members = config["chat_members"]
            expected = acked * members  # every message goes to each member's connection, the sender's included
            self.wait_deliveries(phase, expected)
            after = meter.snapshot()
            received = self.collect(phase)
            started = min(r["started"] for r in sent.values())
            finished = max(r["finished"] for r in sent.values())
            spent = meter.diff(before, after)
            result = self.phase_result("chat", received, expected, started, spent, acked)
            result["persisted_messages_per_s"] = round(acked / max(finished - started, 1e-9), 1)
            result["server_cpu_us_per_message"] = round(spent["server"] / max(acked, 1) * 1e6, 1)
            result["send_errors"] = [e for r in sent.values() for e in r["errors"]][:5]
            result["sent"] = sum(r["sent"] for r in sent.values())
            self.close_clients()
        finally:
            errors = self.stop(procs)
        return [
            {
                "scenario": "chat",
                "server": self.target,
                "users": connected["ready"],
                "channels": len(channels),
                "chat": result,
                "server_errors": errors,
            }
        ]

    def storm(self) -> list[dict[str, Any]]:
        count = self.config["storm"]
        users = self.bench.seed["fanout"][str(max(self.config["fanout_sizes"]))]["users"]
        users = (users * (count // len(users) + 1))[:count]
        procs = self.start("storm")
        try:
            meter = Meter(self.bench, procs)
            meter.wait_quiet()
            proc = procs[0]
            rss_before = proc.rss_kib()
            before, kernel_before = meter.snapshot(), listen_counters()
            in_flight = self.config["storm_in_flight"]
            log(f"{self.target}: storm: {count} clients connect at once, at most {in_flight} handshakes in flight")
            connected = self.connect(
                procs,
                [self.token(i) for i in users],
                [None] * count,
                concurrency=math.ceil(in_flight / len(self.receivers)),
                timeout=self.config["storm_timeout"],
            )
            after, kernel_after = meter.snapshot(), listen_counters()
            meter.wait_quiet()
            time.sleep(1.0)
            rss_after = proc.rss_kib()
            seconds = connected["last_ready"] - connected["started"]
            self.close_clients()
        finally:
            errors = self.stop(procs)
        spent = meter.diff(before, after)
        ready = connected["ready"]
        return [
            {
                "scenario": "storm",
                "server": self.target,
                "storm": {
                    "clients": count,
                    "connected": ready,
                    "failed": connected["failed"],
                    "seconds": round(seconds, 3),
                    "connections_per_s": round(ready / max(seconds, 1e-9), 1),
                    "ready_after_s": connected["ready_after_s"],
                    # Handshakes the kernel dropped because the server's accept queue was full;
                    # the clients' TCP retries them after 1, 3, 7, 15... s (machine-wide counters).
                    "kernel": {key: kernel_after[key] - kernel_before[key] for key in kernel_after},
                    "rss_before_kib": rss_before,
                    "rss_after_kib": rss_after,
                    "memory_per_idle_connection_kb": round((rss_after - rss_before) * 1.024 / max(ready, 1), 2),
                    "server_cpu_ms_per_connection": round(spent["server"] / max(ready, 1) * 1000, 3),
                    "loadgen_cpu_s": round(spent["loadgen"], 3),
                    "other_cpu_cores": round(spent["other"] / max(after["time"] - before["time"], 1e-9), 3),
                },
                "server_errors": errors,
            }
        ]

    def redis(self) -> list[dict[str, Any]]:
        config = self.config
        size = config["redis_subscribers"]
        seed_size = min(s for s in config["fanout_sizes"] if s >= size)
        seed = self.bench.seed["fanout"][str(seed_size)]
        users = seed["users"][:size]
        topic = self.topic(seed["channel"], "redis-room")
        burst_count = max(config["burst_min_messages"], math.ceil(config["burst_deliveries"] / size))
        redis = self.bench.redis()
        out: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for processes in (1, 2):
            redis.flush()
            procs = self.start(f"redis{processes}", processes, redis.url)
            try:
                meter = Meter(self.bench, procs, [redis.process] if redis.process else [])
                log(f"{self.target}: redis: {size} subscribers on {processes} process(es)")
                connected = self.connect(procs, [self.token(i) for i in users], [topic] * size)
                self.connect(procs[:1], [self.token(None)], [topic], worker=0, record=False)
                meter.wait_quiet()
                burst = self.publish_phase(
                    f"redis{processes}-burst",
                    meter,
                    connected["ready"],
                    burst_count,
                    0,
                    window=16,
                    max_seconds=config["burst_max_seconds"],
                )
                burst["subscribers"] = connected["ready"]
                out[f"processes_{processes}"] = burst
                self.close_clients()
            finally:
                errors.update(self.stop(procs))
        one, two = out["processes_1"]["deliveries_per_s"], out["processes_2"]["deliveries_per_s"]
        out["scale_up"] = round(two / one, 3) if one else math.nan
        return [
            {"scenario": "redis", "server": self.target, "subscribers": size, "redis": out, "server_errors": errors}
        ]

    def share(self) -> list[dict[str, Any]]:
        if self.target == PEER:
            return []  # Socket.IO has no share room to compare with
        config = self.config
        seed = self.bench.seed["share"]
        topic = f"share:{seed['token']}"
        viewers = config["share_viewers"]
        procs = self.start("share")
        try:
            meter = Meter(self.bench, procs)
            log(f"{self.target}: share: {viewers} anonymous viewers join at once")
            connected = self.connect(procs, [None] * viewers, [topic] * viewers, kind="share", concurrency=500)
            owner_topic = f"{topic}#{seed['goal']}"
            self.connect(procs[:1], [self.token(None)], [owner_topic], worker=0, record=False, kind="share")
            meter.wait_quiet()
            rooms = [room for r in self.lg.call_each({w: {} for w in self.receivers}, "rooms").values() for room in r]
            frames = sorted(count for count, _ in rooms)
            count = round(config["share_rate"] * config["share_seconds"])
            log(f"{self.target}: share: the owner records progress {config['share_rate']}/s, {count} times")
            progress = self.publish_phase(
                "share-progress",
                meter,
                connected["ready"],
                count,
                1 / config["share_rate"],
                window=100,
                max_seconds=config["share_seconds"] * 3 + 10,
            )
            self.close_clients()
        finally:
            errors = self.stop(procs)
        return [
            {
                "scenario": "share",
                "server": self.target,
                "viewers": connected["ready"],
                "join": {
                    "failed": connected["failed"],
                    "seconds": round(connected["joined_at"] - connected["started"], 3),
                    "ready_after_s": connected["ready_after_s"],
                },
                "room_updated": {
                    # Frames each viewer got while everyone joined (the owner's join included).
                    "per_viewer_mean": round(sum(frames) / max(len(frames), 1), 2),
                    "per_viewer_max": frames[-1] if frames else 0,
                    "last_exact": sum(1 for _, last in rooms if last == connected["ready"]),
                },
                "progress": progress,
                "server_errors": errors,
            }
        ]

    def upload(self) -> list[dict[str, Any]]:
        return upload_scenario.scenario(self)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.config = QUICK if args.quick else FULL
        self.workdir = Path(tempfile.mkdtemp(prefix="realtime-bench-"))
        self.logdir = self.workdir
        self.server_cpus: set[int] | None = None
        self.loadgen_cpus: set[int] | None = None
        if args.pin:
            cpus = sorted(os.sched_getaffinity(0))
            self.server_cpus, self.loadgen_cpus = {cpus[0]}, set(cpus[1:]) or {cpus[0]}
        self._redis: servers.Redis | None = None
        self.database: servers.Database | None = None
        self.loadgen: LoadGenerator | None = None
        self.seed: dict[str, Any] = {}

    def profile(self, proc: servers.Process, name: str) -> subprocess.Popen[bytes] | None:
        """py-spy recording the server during a burst phase (--profile), in the logs directory."""
        if not self.args.profile:
            return None
        out = self.logdir / f"profile-{proc.name}-{name}.txt"
        profiler = subprocess.Popen(
            [
                self.args.profile,
                "record",
                "--nonblocking",
                "-p",
                str(proc.pid),
                "-f",
                "raw",
                "-r",
                "200",
                "-o",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # py-spy attaches
        return profiler

    def redis(self) -> servers.Redis:
        if self._redis is None:
            self._redis = servers.Redis(self.logdir, self.args.redis_url)
        return self._redis

    def setup(self) -> None:
        config = self.config
        log(f"work directory {self.workdir}; preparing the {self.args.db} database")
        self.database = servers.Database(self.args.db, self.workdir, self.args.postgres_url)
        sizes = ",".join(str(size) for size in config["fanout_sizes"])
        seed_path = self.workdir / "seed.json"
        self.database.prepare(
            ["--fanout", sizes, "--chat", f"{config['chat_channels']}x{config['chat_members']}"], seed_path
        )
        self.seed = json.loads(seed_path.read_text())
        self.loadgen = LoadGenerator(self.args.workers + 1, self.loadgen_cpus)

    def teardown(self, keep_logs: Path) -> None:
        """Stops what is still running, drops the databases, keeps the logs, removes the work directory."""
        if self.loadgen is not None:
            self.loadgen.stop()
        if self._redis is not None:
            self._redis.stop()
        if self.database is not None:
            self.database.drop()
        keep_logs.mkdir(parents=True, exist_ok=True)
        for path in self.workdir.glob("*"):
            if path.suffix in (".log", ".txt"):
                shutil.copy(path, keep_logs / path.name)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def run(self) -> dict[str, Any]:
        targets = [*self.args.servers, PEER] if not self.args.no_peer else list(self.args.servers)
        results: list[dict[str, Any]] = []
        started = time.time()
        for scenario in self.args.scenarios:
            for target in targets:
                run = Run(self, target)
                results.extend(getattr(run, scenario)())
        return {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                **servers.machine_info(),
                "node": servers.node_version(),
                "load_average_at_start": os.getloadavg(),
            },
            "command": " ".join(sys.argv),
            "mode": "quick" if self.args.quick else "full",
            "database": self.args.db,
            "config": self.config,
            "pinned": bool(self.args.pin),
            "duration_s": round(time.time() - started, 1),
            "results": results,
        }


# -- the table -------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, str):
        return value
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def figures(result: dict[str, Any]) -> list[tuple[str, Any, str | None]]:
    """(figure, value, target key) rows of one scenario result."""
    scenario = result["scenario"]
    rows: list[tuple[str, Any, str | None]] = []
    if scenario.startswith("fanout-"):
        size = int(scenario.split("-")[1])
        fixed, burst = result["fixed"], result["burst"]
        main = size == 1000
        rows += [
            ("fixed 1,000/s: p50 latency ms", fixed["latency_ms"]["p50"], None),
            ("fixed 1,000/s: p99 latency ms", fixed["latency_ms"]["p99"], "p99<=50" if main else None),
            ("fixed 1,000/s: server CPU us/delivery", fixed["server_cpu_us_per_delivery"], None),
            ("burst: deliveries/s", burst["deliveries_per_s"], "ratio>=1" if main else None),
            ("burst: server CPU us/delivery", burst["server_cpu_us_per_delivery"], "ratio<=1" if main else None),
            ("burst: p99 latency ms", burst["latency_ms"]["p99"], None),
            ("delivered %", min(fixed["delivered_pct"], burst["delivered_pct"]), "all" if size >= 5000 else None),
            (
                "lost / duplicated",
                f"{fixed['lost'] + burst['lost']} / {fixed['duplicated'] + burst['duplicated']}",
                "zero",
            ),
        ]
    elif scenario == "chat":
        chat = result["chat"]
        rows += [
            ("persisted messages/s", chat["persisted_messages_per_s"], ">=1000"),
            ("deliveries/s", chat["deliveries_per_s"], None),
            ("p99 latency ms", chat["latency_ms"]["p99"], None),
            ("server CPU us/message", chat["server_cpu_us_per_message"], None),
            ("lost / duplicated", f"{chat['lost']} / {chat['duplicated']}", "zero"),
        ]
    elif scenario == "storm":
        storm = result["storm"]
        rows += [
            (f"{storm['clients']:,} at once: connections/s", storm["connections_per_s"], None),
            ("server CPU ms/connection", storm["server_cpu_ms_per_connection"], None),
            ("memory per idle connection KB", storm["memory_per_idle_connection_kb"], "<=30"),
            ("failed connections", storm["failed"], None),
        ]
    elif scenario == "share":
        progress, rooms = result["progress"], result["room_updated"]
        rows += [
            (f"{result['viewers']:,} viewers join: seconds", result["join"]["seconds"], None),
            ("room.updated per viewer: mean / max", f"{rooms['per_viewer_mean']} / {rooms['per_viewer_max']}", None),
            ("viewers whose last room.updated is exact", rooms["last_exact"], None),
            ("progress 10/s: p50 latency ms", progress["latency_ms"]["p50"], None),
            ("progress 10/s: p99 latency ms", progress["latency_ms"]["p99"], None),
            ("lost / duplicated", f"{progress['lost']} / {progress['duplicated']}", "zero"),
        ]
    elif scenario == "upload":
        rows += [
            (f"{result['mib']} MiB in 1 MiB PATCHes: MB/s", result["mb_per_s"], None),
            ("progress events (per s)", f"{result['progress_events']} ({result['progress_events_per_s']})", None),
            ("server CPU ms per MiB", result["server_cpu_ms_per_mib"], None),
            ("server CPU ms per progress event (upper bound)", result["server_cpu_ms_per_progress_event"], None),
        ]
    elif scenario == "redis":
        redis = result["redis"]
        one, two = redis["processes_1"], redis["processes_2"]
        rows += [
            ("1 process: deliveries/s", one["deliveries_per_s"], None),
            ("2 processes: deliveries/s", two["deliveries_per_s"], None),
            ("2 processes / 1 process", redis["scale_up"], ">=1.6"),
            ("2 processes: server CPU us/delivery", two["server_cpu_us_per_delivery"], None),
            ("lost / duplicated", f"{one['lost'] + two['lost']} / {one['duplicated'] + two['duplicated']}", "zero"),
        ]
    return rows


TARGETS = {
    "p99<=50": "<= 50 ms",
    "ratio>=1": ">= 1.0x Socket.IO",
    "ratio<=1": "<= 1.0x Socket.IO",
    "all": "100%, 0 lost/dup",
    "zero": "0 / 0",
    ">=1000": ">= 1,000",
    "<=30": "<= 30 KB",
    ">=1.6": ">= 1.6x",
}


def met(target: str | None, value: Any, ratio: float | None, row_lost: str | None) -> str:
    if target is None:
        return ""
    if target == "p99<=50":
        return "yes" if value <= 50 else "NO"
    if target == "ratio>=1":
        return "-" if ratio is None else ("yes" if ratio >= 1 else "NO")
    if target == "ratio<=1":
        return "-" if ratio is None else ("yes" if ratio <= 1 else "NO")
    if target == "all":
        return "yes" if value >= 100 and row_lost == "0 / 0" else "NO"
    if target == "zero":
        return "yes" if value == "0 / 0" else "NO"
    if target == ">=1000":
        return "yes" if value >= 1000 else "NO"
    if target == "<=30":
        return "yes" if value <= 30 else "NO"
    if target == ">=1.6":
        return "yes" if value >= 1.6 else "NO"
    return ""


def table(report: dict[str, Any]) -> tuple[str, list[TableRow]]:
    by_key = {(r["scenario"], r["server"]): r for r in report["results"]}
    rows: list[TableRow] = []
    for result in report["results"]:
        if result["server"] == PEER:
            continue
        peer = by_key.get((result["scenario"], PEER))
        peer_values = {name: value for name, value, _ in figures(peer)} if peer else {}
        ours = figures(result)
        lost = next((value for name, value, _ in ours if name == "lost / duplicated"), None)
        for name, value, target in ours:
            theirs = peer_values.get(name)
            ratio = None
            if isinstance(value, int | float) and isinstance(theirs, int | float) and theirs:
                ratio = round(value / theirs, 3)
            rows.append(
                {
                    "scenario": result["scenario"],
                    "server": result["server"],
                    "figure": name,
                    "ours": value,
                    "socketio": theirs,
                    "ratio": ratio,
                    "target": TARGETS.get(target or "", ""),
                    "met": met(target, value, ratio, lost),
                }
            )
    lines = [
        "| scenario | server | figure | ours | Socket.IO | ratio | target | met? |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        ratio_text = f"{row['ratio']:.2f}x" if row["ratio"] is not None else "-"
        lines.append(
            f"| {row['scenario']} | {row['server']} | {row['figure']} | {_fmt(row['ours'])} | "
            f"{_fmt(row['socketio'])} | {ratio_text} | {row['target']} | {row['met']} |"
        )
    return "\n".join(lines), rows


def _phases(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if result["scenario"] == "redis":
        return [(f"redis {k}", result["redis"][k]) for k in ("processes_1", "processes_2")]
    return [
        (result["scenario"] if key == "chat" else f"{result['scenario']} {key}", result[key])
        for key in ("fixed", "burst", "chat", "progress")
        if key in result
    ]


def notes(report: dict[str, Any]) -> list[str]:
    """Warnings that qualify the table: server errors, other load on the machine, saturation."""
    cores = report["machine"]["cores"] or 1
    out = []
    for result in report["results"]:
        for name, logged in (result.get("server_errors") or {}).items():
            out.append(
                f"{result['scenario']}: {name} logged {logged['count']} errors, e.g. "
                f"{(logged['exceptions'] or logged['first'])[:2]}"
            )
    noisy, saturated = [], []
    for result in report["results"]:
        for name, phase in _phases(result):
            label = f"{name} ({result['server']})"
            if phase["other_cpu_cores"] > 0.25:
                noisy.append(f"{label} {phase['other_cpu_cores']:.2f}")
            if phase["server_cpu_cores"] + phase["loadgen_cpu_cores"] + phase["other_cpu_cores"] > 0.9 * cores:
                saturated.append(label)
    if noisy:
        out.append(
            "other processes on the machine used CPU (cores) during: "
            + ", ".join(noisy)
            + "; rates and latencies of those phases are pessimistic, CPU per delivery less affected"
        )
    if saturated:
        out.append(
            "all cores busy (server + load generator + others) during: "
            + ", ".join(saturated)
            + "; rates there may be limited by the machine, compare server CPU per delivery"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, a smoke run under 2 minutes")
    parser.add_argument("--servers", default="daphne,uvicorn", help="our ASGI servers: daphne,uvicorn")
    parser.add_argument("--scenarios", default="fanout,chat,storm,redis,share,upload")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default="postgres://postgres@127.0.0.1:5432",
        help="server for --db postgres (a database bench_<pid>_* is created and dropped)",
    )
    parser.add_argument(
        "--redis-url",
        default=None,
        help="use this Redis database (flushed!) instead of starting a private redis-server",
    )
    parser.add_argument("--workers", type=int, default=2, help="receiving load-generator processes (+1 publisher)")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin single server processes to the first CPU and the load generator to the others",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the Socket.IO peer (no ratios)")
    parser.add_argument(
        "--drop",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="abort this fraction of subscriber connections during each burst (our clients resume by seq; "
        "Socket.IO has no resume, so its losses are expected)",
    )
    parser.add_argument(
        "--profile",
        nargs="?",
        const=str(ROOT / ".venv" / "bin" / "py-spy"),
        default=None,
        metavar="PY_SPY",
        help="record py-spy profiles of our servers in burst phases (raw format)",
    )
    parser.add_argument("--out", default=None, help="JSON file (default bench/results/<timestamp>.json)")
    args = parser.parse_args()
    args.servers = [s for s in args.servers.split(",") if s]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    scenarios = {"fanout", "chat", "storm", "redis", "share", "upload"}
    unknown = set(args.servers) - {"daphne", "uvicorn"} | set(args.scenarios) - scenarios
    if unknown:
        parser.error(f"unknown server or scenario: {', '.join(sorted(unknown))}")
    out = Path(args.out or ROOT / "bench" / "results" / f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.json")

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if not args.no_peer:
        servers.ensure_peer_installed()

    if args.profile and not Path(args.profile).exists():
        parser.error(f"--profile: {args.profile} not found (pip install py-spy)")

    # SIGTERM unwinds like Ctrl-C, so every started process is stopped and databases dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bench = Bench(args)
    logs = out.with_name(out.stem + "-logs")
    started = time.monotonic()
    try:
        bench.setup()
        report = bench.run()
    finally:
        bench.teardown(logs)
    text, rows = table(report)
    report["table"] = rows
    report["notes"] = notes(report)
    report["total_s"] = round(time.monotonic() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print()
    print(text)
    for note in report["notes"]:
        print(f"- {note}")
    print(f"\n{report['mode']} run, {report['total_s']} s; JSON: {out}; server logs: {logs}/")


if __name__ == "__main__":
    main()
