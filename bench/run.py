"""The benchmark suite: our realtime server (daphne and uvicorn) against Socket.IO 4.

One command starts everything it needs on 127.0.0.1 (a seeded SQLite file or PostgreSQL
database, Redis, our server processes, the Socket.IO peer in bench/peers/ and the load
generator's worker processes), runs the scenarios, stops what it started, prints the
targets of issue 14 and every figure as markdown tables and writes JSON (bench/README.md
explains every figure):

    .venv/bin/python bench/run.py [--quick] [--servers daphne,uvicorn] [--db sqlite,postgres]
                                  [--scenarios fanout,chat,busy,storm,redis,workers,share,upload]
                                  [--server-workers 2] [--out bench/results/<timestamp>.json]

Scenarios, each run on every chosen server and on the peer:
- fanout: N subscribers (100, 1,000, 5,000) in one chat channel; a publisher sends
  `message.create` (persisted). A fixed-rate phase at 1,000 deliveries/s for latency,
  then a burst phase (as fast as replies come back) for maximum deliveries/s.
- chat: 500 channels of 4 users; every user sends messages (each after the previous
  reply), each persisted and delivered to the channel's 4 connections.
- busy: one channel of 1,000 members, 50 of them connected, each sending after its
  previous reply: persisted messages/s and server CPU per message.
- storm: N clients connect (token on the URL) and join a chat channel at once (at most 500
  in flight); connect + join per s, failures, server memory per idle connection.
- redis: subscribers on two server processes sharing Redis, publisher on one; compared
  with one process on the same Redis; Redis commands per connect + join, per idle
  connection per second and per event (INFO commandstats).
- workers: uvicorn --workers N on one port with Redis (ours on uvicorn only).
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
import itertools
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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent))

import servers
import upload as upload_scenario
from loadgen import LoadGenerator

ROOT = Path(__file__).resolve().parents[1]
PEER = "socketio"
SCENARIOS = ("fanout", "chat", "busy", "storm", "redis", "workers", "share", "upload")


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
    busy_members: int
    busy_senders: int
    busy_seconds: float
    storm: int
    storm_in_flight: int
    storm_timeout: float
    redis_subscribers: int
    redis_processes: list[int]
    redis_idle_seconds: float
    share_viewers: int
    share_rate: int
    share_seconds: float


class TableRow(TypedDict):
    """One row of the detail table (and of the JSON's `table`)."""

    database: str
    scenario: str
    server: str
    figure: str
    ours: Any  # a number, or a text such as "0 / 0"
    socketio: Any
    ratio: float | None


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
    # One busy channel: this many members (the fan-out channel of that size; seeded in every
    # mode), of which `busy_senders` are connected and each sends after its previous reply.
    "busy_members": 1000,
    "busy_senders": 50,
    "busy_seconds": 8,  # no message started after this long
    "storm": 5000,
    # All storm clients start at once, with at most this many handshakes in flight (all load
    # generator processes together), so that the kernel's accept queue (2,048 for uvicorn and
    # daphne as started here, 511 for Node) does not overflow: the figure is the server's pace,
    # not TCP's retry timers (`kernel` in the JSON counts dropped handshakes).
    "storm_in_flight": 500,
    "storm_timeout": 60,  # a client that has no hello after this long counts as failed
    "redis_subscribers": 1000,
    "redis_processes": [1, 2],  # the redis scenario's phases: one process, then two
    # Idle connections on Redis: INFO commandstats over this window (presence upkeep runs
    # every REALTIME_PRESENCE_TTL / 3 = 10 s, so 30 s sees three of them).
    "redis_idle_seconds": 30,
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
    "busy_seconds": 3,
    "storm": 300,
    "redis_subscribers": 100,
    "redis_processes": [2],
    "redis_idle_seconds": 10.5,
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


def _calls_diff(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Redis commands called between two INFO commandstats readings, most called first."""
    diff = {name: count - before.get(name, 0) for name, count in after.items()}
    return dict(sorted(((name, count) for name, count in diff.items() if count), key=lambda item: -item[1]))


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

    def start(
        self, label: str, count: int = 1, redis_url: str | None = None, workers: int = 1
    ) -> list[servers.Process]:
        """`count` server processes on their own ports, or one uvicorn with `workers` processes."""
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
                            workers,
                        )
                    )
            # Clients through the whole path first, so lazy imports and the hub are not measured
            # (a few per worker process, which the kernel hands connections to as it likes).
            for proc in procs:
                self.connect([proc], [self.token(0)] * 4 * workers, [None] * 4 * workers, worker=self.receivers[0])
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
        inbox: bool = False,
    ) -> dict[str, Any]:
        """Connects the clients, spread round-robin over the receiver workers (or on one worker);
        with `inbox`, each also joins its inbox after its topic."""
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
                "inbox": inbox,
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
                "per_s": round(connected["ready"] / max(connected["joined_at"] - connected["started"], 1e-9), 1),
                "settle_seconds": round(settle, 2),
            },
            "fixed": fixed,
            "burst": burst,
        }

    def talk(self, name: str, meter: Meter, per_client: int, max_seconds: float, recipients: int) -> dict[str, Any]:
        """Every connected client sends messages to its topic, each after the reply to its previous
        one; each accepted message is expected at `recipients` connections (the sender's included)."""
        phase = phase_code(f"{self.target}:{name}")
        profiler = self.bench.profile(meter.procs[0], name) if self.target != PEER else None
        before = meter.snapshot()
        calls = {
            w: {
                "phase": phase,
                "id_base": phase * 10_000_000 + w * 1_000_000,
                "per_client": per_client,
                "max_seconds": max_seconds,
            }
            for w in self.receivers
        }
        sent = self.lg.call_each(calls, "chat")
        acked = sum(r["acked"] for r in sent.values())
        expected = acked * recipients
        self.wait_deliveries(phase, expected)
        after = meter.snapshot()
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=30)
        received = self.collect(phase)
        started = min(r["started"] for r in sent.values())
        finished = max(r["finished"] for r in sent.values())
        spent = meter.diff(before, after)
        result = self.phase_result(name, received, expected, started, spent, acked)
        result["persisted_messages_per_s"] = round(acked / max(finished - started, 1e-9), 1)
        result["server_cpu_us_per_message"] = round(spent["server"] / max(acked, 1) * 1e6, 1)
        # With --db postgres: the database backends' CPU, which server CPU does not include.
        result["services_cpu_us_per_message"] = round(spent["services"] / max(acked, 1) * 1e6, 1)
        result["send_errors"] = [e for r in sent.values() for e in r["errors"]][:5]
        result["sent"] = sum(r["sent"] for r in sent.values())
        return result

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
            connected = self.connect(procs, tokens, topics, inbox=self.bench.args.inbox and self.dialect == "v1")
            meter.wait_quiet()
            log(f"{self.target}: chat: every user sends {config['chat_messages']} messages")
            # Every message goes to each member's connection, the sender's included.
            members = config["chat_members"]
            result = self.talk("chat", meter, config["chat_messages"], config["chat_max_seconds"], members)
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

    def busy(self) -> list[dict[str, Any]]:
        """One channel of `busy_members` members, `busy_senders` of them connected and sending."""
        config = self.config
        seed = self.bench.seed["fanout"][str(config["busy_members"])]
        senders = seed["users"][: config["busy_senders"]]
        procs = self.start("busy")
        try:
            meter = Meter(self.bench, procs)
            topic = self.topic(seed["channel"], "busy-room")
            log(f"{self.target}: busy: {len(senders)} of {config['busy_members']} members connected")
            connected = self.connect(
                procs,
                [self.token(i) for i in senders],
                [topic] * len(senders),
                inbox=self.bench.args.inbox and self.dialect == "v1",
            )
            meter.wait_quiet()
            log(f"{self.target}: busy: each sends after its previous reply for {config['busy_seconds']} s")
            # At most 10,000 per sender keeps message ids apart (talk() numbers them per client).
            result = self.talk("busy", meter, 10_000, config["busy_seconds"], connected["ready"])
            self.close_clients()
        finally:
            errors = self.stop(procs)
        return [
            {
                "scenario": "busy",
                "server": self.target,
                "members": config["busy_members"],
                "senders": connected["ready"],
                "chat": result,
                "server_errors": errors,
            }
        ]

    def storm(self) -> list[dict[str, Any]]:
        count = self.config["storm"]
        seed = self.bench.seed["fanout"][str(max(self.config["fanout_sizes"]))]
        users = (seed["users"] * (count // len(seed["users"]) + 1))[:count]
        topic = self.topic(seed["channel"], "storm-room")
        procs = self.start("storm")
        try:
            meter = Meter(self.bench, procs)
            meter.wait_quiet()
            proc = procs[0]
            rss_before = proc.rss_kib()
            before, kernel_before = meter.snapshot(), listen_counters()
            in_flight = self.config["storm_in_flight"]
            log(f"{self.target}: storm: {count} clients connect and join at once, at most {in_flight} in flight")
            connected = self.connect(
                procs,
                [self.token(i) for i in users],
                [topic] * count,
                concurrency=math.ceil(in_flight / len(self.receivers)),
                timeout=self.config["storm_timeout"],
            )
            after, kernel_after = meter.snapshot(), listen_counters()
            meter.wait_quiet()
            time.sleep(1.0)
            rss_after = proc.rss_kib()
            # Until the last join reply (or failure): accepted, authenticated and joined.
            seconds = connected["joined_at"] - connected["started"]
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

    def redis_phase(
        self,
        name: str,
        procs: list[servers.Process],
        redis: servers.Redis,
        size: int,
        users: list[int],
        topic: str,
        idle: bool = True,
    ) -> dict[str, Any]:
        """Subscribers and a publisher on `procs` sharing Redis: connect + join, an idle window (with
        `idle`) and a burst, each with the Redis commands it cost (INFO commandstats diffs)."""
        config = self.config
        meter = Meter(self.bench, procs, [redis.process] if redis.process else [])
        readings = [(time.monotonic(), redis.command_calls())]
        connected = self.connect(procs, [self.token(i) for i in users], [topic] * size)
        self.connect(procs[:1], [self.token(None)], [topic], worker=0, record=False)
        meter.wait_quiet()  # what the joins set off (presence) settles: counted with them
        readings.append((time.monotonic(), redis.command_calls()))
        if idle:
            time.sleep(config["redis_idle_seconds"])
            readings.append((time.monotonic(), redis.command_calls()))
        burst_count = max(config["burst_min_messages"], math.ceil(config["burst_deliveries"] / size))
        burst = self.publish_phase(
            f"{name}-burst", meter, connected["ready"], burst_count, 0, 16, config["burst_max_seconds"]
        )
        readings.append((time.monotonic(), redis.command_calls()))
        clients = connected["ready"] + 1  # the publisher too
        windows = [
            (after[0] - before[0], _calls_diff(before[1], after[1])) for before, after in itertools.pairwise(readings)
        ]
        join, event = windows[0][1], windows[-1]
        messages = max(burst["messages"], 1)
        burst["subscribers"] = connected["ready"]
        burst["connect"] = {
            "failed": connected["failed"],
            "seconds": round(connected["joined_at"] - connected["started"], 3),
            "per_s": round(connected["ready"] / max(connected["joined_at"] - connected["started"], 1e-9), 1),
        }
        # Each command a Lua script runs counts too (Redis counts them in commandstats).
        commands: dict[str, Any] = {"per_connect_join": round(sum(join.values()) / clients, 2), "connect_join": join}
        upkeep = {}
        if idle:
            seconds, calls = windows[1]
            upkeep = {command: count / seconds for command, count in calls.items()}  # per second
            commands |= {
                "idle_seconds": round(seconds, 2),
                "idle_per_s": round(sum(upkeep.values()), 2),
                "idle_per_connection_per_s": round(sum(upkeep.values()) / clients, 5),
                "idle": calls,
            }
        # What the idle upkeep costs over the burst's window, command by command, is taken out:
        # what the events cost (exact once upkeep is negligible; an expected value before).
        seconds, calls = event
        events = {command: max(0.0, count - upkeep.get(command, 0.0) * seconds) for command, count in calls.items()}
        commands |= {
            "publish_per_event": round(events.get("publish", 0.0) / messages, 3),
            "per_event": round(sum(events.values()) / messages, 3),
            "per_event_with_upkeep": round(sum(calls.values()) / messages, 3),
            "burst_window_seconds": round(seconds, 2),
            "burst": calls,
        }
        burst["redis_commands"] = commands
        return burst

    def redis(self) -> list[dict[str, Any]]:
        config = self.config
        size = config["redis_subscribers"]
        seed_size = min(s for s in config["fanout_sizes"] if s >= size)
        seed = self.bench.seed["fanout"][str(seed_size)]
        users = seed["users"][:size]
        topic = self.topic(seed["channel"], "redis-room")
        redis = self.bench.redis()
        out: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for processes in config["redis_processes"]:
            redis.flush()
            procs = self.start(f"redis{processes}", processes, redis.url)
            try:
                log(f"{self.target}: redis: {size} subscribers on {processes} process(es)")
                # The idle window only where the targets read it (it is the longest part).
                out[f"processes_{processes}"] = self.redis_phase(
                    f"redis{processes}", procs, redis, size, users, topic, idle=processes == 2
                )
                self.close_clients()
            finally:
                errors.update(self.stop(procs))
        one, two = (out.get(f"processes_{n}", {}).get("deliveries_per_s") for n in (1, 2))
        out["scale_up"] = round(two / one, 3) if one and two else math.nan
        return [
            {"scenario": "redis", "server": self.target, "subscribers": size, "redis": out, "server_errors": errors}
        ]

    def workers(self) -> list[dict[str, Any]]:
        """uvicorn --workers N: several processes on one port (the kernel spreads the connections),
        fan-out between them through Redis; the same phases as the redis scenario."""
        if self.target != "uvicorn":
            return []  # daphne has no --workers; the peer would need Node's cluster module
        count = self.bench.args.server_workers
        config = self.config
        size = config["redis_subscribers"]
        seed = self.bench.seed["fanout"][str(min(s for s in config["fanout_sizes"] if s >= size))]
        redis = self.bench.redis()
        redis.flush()
        procs = self.start(f"workers{count}", redis_url=redis.url, workers=count)
        try:
            log(f"{self.target}: workers: {size} subscribers on --workers {count}, one port")
            cpu_before, sockets_before = procs[0].worker_cpu_seconds(), procs[0].worker_sockets()
            topic = self.topic(seed["channel"], "workers-room")
            result = self.redis_phase(f"workers{count}", procs, redis, size, seed["users"][:size], topic, idle=False)
            cpu_after, sockets_after = procs[0].worker_cpu_seconds(), procs[0].worker_sockets()
            # How evenly the kernel spread the work: each process's CPU seconds over the scenario,
            # and the sockets it had open at the end (its clients) beyond those it had before.
            result["cpu_s_by_process"] = sorted(
                (round(cpu - cpu_before.get(pid, 0.0), 2) for pid, cpu in cpu_after.items()), reverse=True
            )
            result["clients_by_process"] = sorted(
                (n - sockets_before.get(pid, 0) for pid, n in sockets_after.items()), reverse=True
            )
            self.close_clients()
        finally:
            errors = self.stop(procs)
        return [
            {
                "scenario": f"workers-{count}",
                "server": self.target,
                "processes": count,
                "subscribers": size,
                "workers": result,
                "server_errors": errors,
            }
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
    """Every scenario on every target, on one database kind (`db`)."""

    def __init__(self, args: argparse.Namespace, db: str) -> None:
        self.args = args
        self.db = db
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
        """py-spy recording the server during a burst or chat phase (--profile), in the logs directory."""
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
        log(f"work directory {self.workdir}; preparing the {self.db} database")
        self.database = servers.Database(self.db, self.workdir, self.args.postgres_url)
        sizes = ",".join(str(size) for size in sorted({*config["fanout_sizes"], config["busy_members"]}))
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

    def run(self) -> list[dict[str, Any]]:
        """The results of every scenario on every target, each tagged with this database kind."""
        targets = [*self.args.servers, PEER] if not self.args.no_peer else list(self.args.servers)
        results: list[dict[str, Any]] = []
        for scenario in self.args.scenarios:
            for target in targets:
                run = Run(self, target)
                results.extend({**result, "database": self.db} for result in getattr(run, scenario)())
        return results


# -- the table -------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def figures(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """(figure, value) rows of one scenario result, for the detail table."""
    scenario = result["scenario"]
    rows: list[tuple[str, Any]] = []
    if scenario.startswith("fanout-"):
        fixed, burst = result["fixed"], result["burst"]
        rows += [
            ("connect + join per s", result["connect"]["per_s"]),
            ("fixed 1,000/s: p50 latency ms", fixed["latency_ms"]["p50"]),
            ("fixed 1,000/s: p99 latency ms", fixed["latency_ms"]["p99"]),
            ("fixed 1,000/s: server CPU us/delivery", fixed["server_cpu_us_per_delivery"]),
            ("burst: deliveries/s", burst["deliveries_per_s"]),
            ("burst: server CPU us/delivery", burst["server_cpu_us_per_delivery"]),
            ("burst: p99 latency ms", burst["latency_ms"]["p99"]),
            ("delivered %", min(fixed["delivered_pct"], burst["delivered_pct"])),
            ("lost / duplicated", _lost_duplicated(result)),
        ]
    elif scenario in ("chat", "busy"):
        chat = result["chat"]
        rows += [
            ("persisted messages/s", chat["persisted_messages_per_s"]),
            ("deliveries/s", chat["deliveries_per_s"]),
            ("p99 latency ms", chat["latency_ms"]["p99"]),
            ("server CPU us/message", chat["server_cpu_us_per_message"]),
        ]
        if chat["services_cpu_us_per_message"]:
            rows.append(("database CPU us/message", chat["services_cpu_us_per_message"]))
        rows.append(("lost / duplicated", _lost_duplicated(result)))
    elif scenario == "storm":
        storm = result["storm"]
        rows += [
            (f"{storm['clients']:,} at once: connect + join per s", storm["connections_per_s"]),
            ("server CPU ms/connection", storm["server_cpu_ms_per_connection"]),
            ("memory per idle connection KB", storm["memory_per_idle_connection_kb"]),
            ("failed connections", storm["failed"]),
        ]
    elif scenario == "share":
        progress, rooms = result["progress"], result["room_updated"]
        rows += [
            (f"{result['viewers']:,} viewers join: seconds", result["join"]["seconds"]),
            ("room.updated per viewer: mean / max", f"{rooms['per_viewer_mean']} / {rooms['per_viewer_max']}"),
            ("viewers whose last room.updated is exact", rooms["last_exact"]),
            ("progress 10/s: p50 latency ms", progress["latency_ms"]["p50"]),
            ("progress 10/s: p99 latency ms", progress["latency_ms"]["p99"]),
            ("lost / duplicated", _lost_duplicated(result)),
        ]
    elif scenario == "upload":
        rows += [
            (f"{result['mib']} MiB in 1 MiB PATCHes: MB/s", result["mb_per_s"]),
            ("progress events (per s)", f"{result['progress_events']} ({result['progress_events_per_s']})"),
            ("server CPU ms per MiB", result["server_cpu_ms_per_mib"]),
            ("server CPU ms per progress event (upper bound)", result["server_cpu_ms_per_progress_event"]),
        ]
    elif scenario == "redis":
        redis = result["redis"]
        for key, label in (("processes_1", "1 process"), ("processes_2", "2 processes")):
            phase = redis.get(key)
            if phase is None:
                continue
            commands = phase["redis_commands"]
            rows += [
                (f"{label}: deliveries/s", phase["deliveries_per_s"]),
                (f"{label}: server CPU us/delivery", phase["server_cpu_us_per_delivery"]),
                (f"{label}: Redis commands per connect + join", commands["per_connect_join"]),
            ]
            if "idle_per_connection_per_s" in commands:
                rows.append(
                    (f"{label}: Redis commands per idle connection per s", commands["idle_per_connection_per_s"])
                )
            rows += [
                (f"{label}: Redis commands per event", commands["per_event"]),
                (f"{label}: PUBLISH per event", commands["publish_per_event"]),
            ]
        rows += [("2 processes / 1 process deliveries/s", redis["scale_up"])]
        rows.append(("lost / duplicated", _lost_duplicated(result)))
    elif scenario.startswith("workers-"):
        phase = result["workers"]
        commands = phase["redis_commands"]
        rows += [
            ("connect + join per s", phase["connect"]["per_s"]),
            ("burst: deliveries/s", phase["deliveries_per_s"]),
            ("burst: server CPU us/delivery (all processes)", phase["server_cpu_us_per_delivery"]),
            ("CPU s by process", " / ".join(str(cpu) for cpu in phase["cpu_s_by_process"])),
            ("connections by process", " / ".join(str(n) for n in phase["clients_by_process"])),
            ("Redis commands per connect + join", commands["per_connect_join"]),
            # No idle window here to take the presence upkeep out with.
            ("Redis commands per event (idle upkeep included)", commands["per_event_with_upkeep"]),
            ("lost / duplicated", _lost_duplicated(result)),
        ]
    return rows


def _phases(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if result["scenario"] == "redis":
        return [(f"redis {k}", result["redis"][k]) for k in ("processes_1", "processes_2") if k in result["redis"]]
    return [
        (result["scenario"] if key in ("chat", "workers") else f"{result['scenario']} {key}", result[key])
        for key in ("fixed", "burst", "chat", "progress", "workers")
        if key in result
    ]


def _lost_duplicated(result: dict[str, Any]) -> str:
    phases = [phase for _, phase in _phases(result)]
    return f"{sum(p['lost'] for p in phases)} / {sum(p['duplicated'] for p in phases)}"


def table(report: dict[str, Any]) -> tuple[str, list[TableRow]]:
    """Every figure of every scenario: ours next to Socket.IO's from the same run."""
    by_key = {(r["database"], r["scenario"], r["server"]): r for r in report["results"]}
    rows: list[TableRow] = []
    for result in report["results"]:
        if result["server"] == PEER:
            continue
        peer = by_key.get((result["database"], result["scenario"], PEER))
        peer_values = dict(figures(peer)) if peer else {}
        for name, value in figures(result):
            theirs = peer_values.get(name)
            ratio = None
            if isinstance(value, int | float) and isinstance(theirs, int | float) and theirs:
                ratio = round(value / theirs, 3)
            rows.append(
                {
                    "database": result["database"],
                    "scenario": result["scenario"],
                    "server": result["server"],
                    "figure": name,
                    "ours": value,
                    "socketio": theirs,
                    "ratio": ratio,
                }
            )
    lines = [
        "| db | scenario | server | figure | ours | Socket.IO | ratio |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for row in rows:
        ratio_text = f"{row['ratio']:.2f}x" if row["ratio"] is not None else "-"
        lines.append(
            f"| {row['database']} | {row['scenario']} | {row['server']} | {row['figure']} | {_fmt(row['ours'])} | "
            f"{_fmt(row['socketio'])} | {ratio_text} |"
        )
    return "\n".join(lines), rows


# -- the targets of issue 14 -------------------------------------------------------------


class Results:
    """The results of one database kind, by scenario and server."""

    def __init__(self, results: list[dict[str, Any]], database: str) -> None:
        self.results = [r for r in results if r["database"] == database]
        self.by_key = {(r["scenario"], r["server"]): r for r in self.results}

    def get(self, scenario: str, server: str, *path: str) -> Any:
        """The value at `path` in that scenario's result; None when it did not run."""
        value: Any = self.by_key.get((scenario, server))
        for key in path:
            if value is None:
                return None
            value = value.get(key)
        return value

    def of(self, server: str, scenarios: Sequence[str] | None = None) -> list[dict[str, Any]]:
        return [r for r in self.results if r["server"] == server and (scenarios is None or r["scenario"] in scenarios)]


class Target(TypedDict):
    """One target of issue 14: how to read its figure from the results, and how to check it."""

    number: str
    name: str
    threshold: str
    value: Callable[[Results, str], Any]  # (results, server) -> figure, None when not measured
    checked: tuple[str, ...] | None  # which of our servers the threshold applies to (None: every one)
    vs_peer: bool  # show each figure's ratio to Socket.IO's
    check: Callable[[Any, Any], bool] | None  # (ours, Socket.IO's) -> met; None: a figure to state


class TargetRow(TypedDict):
    number: str
    target: str
    threshold: str
    database: str
    values: dict[str, Any]  # server -> figure
    ratios: dict[str, float | None]  # server -> ours / Socket.IO's
    met: dict[str, bool]  # checked server -> met


def _ratio(ours: Any, theirs: Any) -> float | None:
    if isinstance(ours, int | float) and isinstance(theirs, int | float) and theirs:
        return round(ours / theirs, 3)
    return None


def _between(
    scenario: str, path: tuple[str, ...], numerator: str, denominator: str
) -> Callable[[Results, str], float | None]:
    """A figure of one server divided by the same figure of another (shown as the first's)."""

    def value(results: Results, server: str) -> float | None:
        if server != numerator:
            return None
        return _ratio(results.get(scenario, numerator, *path), results.get(scenario, denominator, *path))

    return value


def _scenarios_lost(scenarios: Sequence[str] | None) -> Callable[[Results, str], str | None]:
    def value(results: Results, server: str) -> str | None:
        found = [r for r in results.of(server, scenarios) if _phases(r)]
        if not found:
            return None
        lost = duplicated = 0
        for result in found:
            lost_text, duplicated_text = _lost_duplicated(result).split(" / ")
            lost, duplicated = lost + int(lost_text), duplicated + int(duplicated_text)
        return f"{lost} / {duplicated}"

    return value


def _workers(results: Results, server: str) -> str | None:
    workers = next((r for r in results.of(server) if r["scenario"].startswith("workers-")), None)
    if workers is None:
        return None
    one = results.get("redis", server, "redis", "processes_1", "deliveries_per_s")
    rate = workers["workers"]["deliveries_per_s"]
    return f"{_fmt(rate)} ({rate / one:.2f}x 1 process)" if one else _fmt(rate)


def targets(config: Config, server_workers: int) -> list[Target]:
    size = 1000 if 1000 in config["fanout_sizes"] else max(config["fanout_sizes"])
    fanout = f"fanout-{size}"
    storm, members, senders = config["storm"], config["busy_members"], config["busy_senders"]
    redis_size = config["redis_subscribers"]

    def figure(scenario: str, *path: str) -> Callable[[Results, str], Any]:
        return lambda results, server: results.get(scenario, server, *path)

    def at_least(limit: float) -> Callable[[Any, Any], bool]:
        return lambda ours, _: ours >= limit

    def at_most(limit: float) -> Callable[[Any, Any], bool]:
        return lambda ours, _: ours <= limit

    def peer_or(compare: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
        return lambda ours, theirs: theirs is not None and compare(ours, theirs)

    both: tuple[str, ...] | None = None
    return [
        {
            "number": "1",
            "name": f"connections: connect (token on the URL) + chat join per s, storm of {storm:,}, one process",
            "threshold": ">= 1,000/s and >= 0.8x Socket.IO (uvicorn)",
            "value": figure("storm", "storm", "connections_per_s"),
            "checked": ("uvicorn",),
            "vs_peer": True,
            "check": peer_or(lambda ours, theirs: ours >= 1000 and ours >= 0.8 * theirs),
        },
        {
            "number": "1",
            "name": f"connections: failed in the storm of {storm:,}",
            "threshold": "0 (both servers)",
            "value": figure("storm", "storm", "failed"),
            "checked": both,
            "vs_peer": False,
            "check": lambda ours, _: ours == 0,
        },
        *(
            target
            for scenario, label in (
                ("chat", f"{config['chat_channels']} channels of {config['chat_members']}"),
                ("busy", f"one channel of {members:,} members, {senders} senders"),
            )
            for target in (
                Target(
                    number="2",
                    name=f"persisted writes, {label}: messages/s",
                    threshold=">= 1,500",
                    value=figure(scenario, "chat", "persisted_messages_per_s"),
                    checked=both,
                    vs_peer=True,
                    check=at_least(1500),
                ),
                Target(
                    number="2",
                    name=f"persisted writes, {label}: server CPU us per message",
                    threshold="<= 500 us",
                    value=figure(scenario, "chat", "server_cpu_us_per_message"),
                    checked=both,
                    vs_peer=True,
                    check=at_most(500),
                ),
            )
        ),
        {
            "number": "2",
            "name": "persisted writes: lost / duplicated (both scenarios)",
            "threshold": "0 / 0",
            "value": _scenarios_lost(("chat", "busy")),
            "checked": both,
            "vs_peer": False,
            "check": lambda ours, _: ours == "0 / 0",
        },
        {
            "number": "3",
            "name": f"fan-out to {size:,}: burst server CPU us per delivery",
            "threshold": "<= 1.0x Socket.IO (uvicorn)",
            "value": figure(fanout, "burst", "server_cpu_us_per_delivery"),
            "checked": ("uvicorn",),
            "vs_peer": True,
            "check": peer_or(lambda ours, theirs: ours <= theirs),
        },
        {
            "number": "3",
            "name": f"fan-out to {size:,}: burst deliveries/s",
            "threshold": ">= 1.0x Socket.IO (uvicorn)",
            "value": figure(fanout, "burst", "deliveries_per_s"),
            "checked": ("uvicorn",),
            "vs_peer": True,
            "check": peer_or(lambda ours, theirs: ours >= theirs),
        },
        {
            "number": "3",
            "name": f"fan-out to {size:,}: daphne / uvicorn burst server CPU per delivery",
            "threshold": "<= 1.5",
            "value": _between(fanout, ("burst", "server_cpu_us_per_delivery"), "daphne", "uvicorn"),
            "checked": ("daphne",),
            "vs_peer": False,
            "check": at_most(1.5),
        },
        {
            "number": "3",
            "name": f"fan-out to {size:,}: daphne / uvicorn burst deliveries/s",
            "threshold": ">= 0.67 (within 1.5x)",
            "value": _between(fanout, ("burst", "deliveries_per_s"), "daphne", "uvicorn"),
            "checked": ("daphne",),
            "vs_peer": False,
            "check": at_least(1 / 1.5),
        },
        {
            "number": "3",
            "name": f"fan-out to {size:,} at 1,000 deliveries/s: p99 latency ms",
            "threshold": "<= 1.0x Socket.IO",
            "value": figure(fanout, "fixed", "latency_ms", "p99"),
            "checked": both,
            "vs_peer": True,
            "check": peer_or(lambda ours, theirs: ours <= theirs),
        },
        {
            "number": "4",
            "name": "memory per idle authenticated connection (joined to a chat channel), KB",
            "threshold": "<= 1.0x Socket.IO",
            "value": figure("storm", "storm", "memory_per_idle_connection_kb"),
            "checked": both,
            "vs_peer": True,
            "check": peer_or(lambda ours, theirs: ours <= theirs),
        },
        {
            "number": "5",
            "name": f"Redis commands per published event, 2 processes, {redis_size:,} subscribers",
            "threshold": "1 (one PUBLISH): <= 1.1",
            "value": figure("redis", "redis", "processes_2", "redis_commands", "per_event"),
            "checked": both,
            "vs_peer": False,
            "check": at_most(1.1),
        },
        {
            "number": "5",
            "name": "Redis commands per connect + join, 2 processes",
            "threshold": "stated",
            "value": figure("redis", "redis", "processes_2", "redis_commands", "per_connect_join"),
            "checked": both,
            "vs_peer": False,
            "check": None,
        },
        {
            "number": "5",
            "name": "Redis commands per idle connection per s, 2 processes",
            "threshold": "per process, not per connection: <= 0.01",
            "value": figure("redis", "redis", "processes_2", "redis_commands", "idle_per_connection_per_s"),
            "checked": both,
            "vs_peer": False,
            "check": at_most(0.01),
        },
        {
            "number": "5",
            "name": f"uvicorn --workers {server_workers} on one port: burst deliveries/s to {redis_size:,}",
            "threshold": "stated",
            "value": _workers,
            "checked": ("uvicorn",),
            "vs_peer": False,
            "check": None,
        },
        {
            "number": "5",
            "name": f"uvicorn --workers {server_workers} on one port: connect + join per s",
            "threshold": "stated",
            "value": lambda results, server: next(
                (r["workers"]["connect"]["per_s"] for r in results.of(server) if r["scenario"].startswith("workers-")),
                None,
            ),
            "checked": ("uvicorn",),
            "vs_peer": False,
            "check": None,
        },
        {
            "number": "all",
            "name": "lost / duplicated, every scenario",
            "threshold": "0 / 0",
            "value": _scenarios_lost(None),
            "checked": both,
            "vs_peer": False,
            "check": lambda ours, _: ours == "0 / 0",
        },
    ]


def target_table(report: dict[str, Any]) -> tuple[str, list[TargetRow]]:
    """One row per target of issue 14 and database: each server's figure, ratio to Socket.IO, met."""
    ours = list(report["servers"])
    shown = [*ours, PEER]
    rows: list[TargetRow] = []
    by_database = {database: Results(report["results"], database) for database in report["databases"]}
    for target in targets(report["config"], report["server_workers"]):
        for database, results in by_database.items():  # a target's rows together
            values = {server: target["value"](results, server) for server in shown}
            if all(value is None for value in values.values()):
                continue  # its scenario did not run
            peer = values[PEER]
            checked = [s for s in (target["checked"] or ours) if s in ours and values[s] is not None]
            check = target["check"]
            rows.append(
                {
                    "number": target["number"],
                    "target": target["name"],
                    "threshold": target["threshold"],
                    "database": database,
                    "values": values,
                    "ratios": {s: _ratio(values[s], peer) for s in ours} if target["vs_peer"] else {},
                    "met": {s: bool(check(values[s], peer)) for s in checked} if check else {},
                }
            )
    lines = [
        f"| # | target | threshold | db | {' | '.join(shown)} | met |",
        f"|---|---|---|---|{'---:|' * len(shown)}---|",
    ]
    for row in rows:
        cells = []
        for server in shown:
            cell = _fmt(row["values"][server])
            ratio = row["ratios"].get(server)
            cells.append(f"{cell} ({ratio:.2f}x)" if ratio is not None else cell)
        if not row["met"]:
            met_text = "-" if row["threshold"] != "stated" else ""
        elif len(set(row["met"].values())) == 1:
            met_text = "yes" if next(iter(row["met"].values())) else "NO"
        else:
            met_text = ", ".join(f"{s} {'yes' if ok else 'NO'}" for s, ok in row["met"].items())
        lines.append(
            f"| {row['number']} | {row['target']} | {row['threshold']} | {row['database']} | "
            f"{' | '.join(cells)} | {met_text} |"
        )
    return "\n".join(lines), rows


def notes(report: dict[str, Any]) -> list[str]:
    """Warnings that qualify the table: server errors, other load on the machine, saturation."""
    cores = report["machine"]["cores"] or 1
    out = []
    for result in report["results"]:
        for name, logged in (result.get("server_errors") or {}).items():
            out.append(
                f"{result['database']} {result['scenario']}: {name} logged {logged['count']} errors, e.g. "
                f"{(logged['exceptions'] or logged['first'])[:2]}"
            )
    noisy, saturated = [], []
    for result in report["results"]:
        for name, phase in _phases(result):
            label = f"{result['database']} {name} ({result['server']})"
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
    parser.add_argument("--quick", action="store_true", help="smaller sizes, a smoke run of about 3 minutes")
    parser.add_argument("--servers", default="daphne,uvicorn", help="our ASGI servers: daphne,uvicorn")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument(
        "--db", default="sqlite", help="sqlite, postgres, or both in one run: sqlite,postgres (every scenario on each)"
    )
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
        "--server-workers",
        type=int,
        default=2,
        metavar="N",
        help="the workers scenario: uvicorn --workers N on one port (default 2)",
    )
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
    parser.add_argument(
        "--inbox",
        action="store_true",
        help="chat and busy clients also join their inbox, as the bundled client does (then unread reaches them)",
    )
    parser.add_argument("--out", default=None, help="JSON file (default bench/results/<timestamp>.json)")
    args = parser.parse_args()
    args.servers = [s for s in args.servers.split(",") if s]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    args.db = [d for d in args.db.split(",") if d]
    unknown = (
        set(args.servers) - {"daphne", "uvicorn"}
        | set(args.scenarios) - set(SCENARIOS)
        | set(args.db) - {"sqlite", "postgres"}
    )
    if unknown:
        parser.error(f"unknown server, scenario or database: {', '.join(sorted(unknown))}")
    if args.server_workers < 2:
        parser.error("--server-workers: at least 2")
    out = Path(args.out or ROOT / "bench" / "results" / f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.json")

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if not args.no_peer:
        servers.ensure_peer_installed()

    if args.profile and not Path(args.profile).exists():
        parser.error(f"--profile: {args.profile} not found (bin/setup dev installs it)")

    # SIGTERM unwinds like Ctrl-C, so every started process is stopped and databases dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logs = out.with_name(out.stem + "-logs")
    started = time.monotonic()
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            **servers.machine_info(),
            "node": servers.node_version() if not args.no_peer else None,
            "load_average_at_start": os.getloadavg(),
        },
        "command": " ".join(sys.argv),
        "mode": "quick" if args.quick else "full",
        "databases": args.db,
        "servers": args.servers,
        "server_workers": args.server_workers,
        "config": QUICK if args.quick else FULL,
        "pinned": bool(args.pin),
        "inbox": bool(args.inbox),
        "duration_s": {},
        "results": [],
    }
    for db in args.db:
        bench = Bench(args, db)
        db_started = time.monotonic()
        try:
            bench.setup()
            report["results"] += bench.run()
        finally:
            bench.teardown(logs / db)
        report["duration_s"][db] = round(time.monotonic() - db_started, 1)
    goals, goal_rows = target_table(report)
    text, rows = table(report)
    report["targets"] = goal_rows
    report["table"] = rows
    report["notes"] = notes(report)
    report["total_s"] = round(time.monotonic() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print()
    print(goals)
    print()
    print(text)
    for note in report["notes"]:
        print(f"- {note}")
    print(f"\n{report['mode']} run, {report['total_s']} s; JSON: {out}; server logs: {logs}/")


if __name__ == "__main__":
    main()
