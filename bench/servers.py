"""Starting and stopping what the benchmark measures, and reading its CPU time and memory.

- `Database`: a migrated and seeded template (a SQLite file, or a PostgreSQL database
  on 127.0.0.1:5432), cloned fresh for every server run so runs never see each
  other's messages.
- `Redis`: a private redis-server on a free port (no persistence), for the two-process
  scenarios; `Redis.command_calls()` reads its INFO commandstats.
- `start_ours` (daphne or uvicorn serving config.asgi; uvicorn optionally with `--workers N`,
  several processes on one port) and `start_peer` (the Socket.IO reference in bench/peers/).
- `Process.cpu_seconds()` (user + system time, all threads, from /proc/<pid>/stat, with
  the process's children: uvicorn's worker processes) and `Process.rss_kib()` (VmRSS from
  /proc/<pid>/status).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "bench" / "peers"
PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The server environment: the per-connection rate limit would throttle the publisher,
# clients send no pings (heartbeat), production settings (DEBUG off) otherwise.
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "0",
    "REALTIME_RATE": "100000/100000",
    "REALTIME_HEARTBEAT": "3600",
    "LOG_LEVEL": "WARNING",
    "JWT_ACCESS_MINUTES": "720",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    """Child processes, recursively (uvicorn --workers: the supervisor's worker processes)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its living children (a child that ended is not counted)."""
    total = cpu_seconds(pid)
    for child in descendants(pid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(child)
    return total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def base_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(SERVER_ENV)
    env.update(extra)
    return env


class Process:
    """A started process whose output goes to a log file (a full pipe would block it)."""

    def __init__(
        self,
        name: str,
        command: list[str],
        log_path: Path,
        env: dict[str, str],
        cpus: set[int] | None,
        port: int | None = None,
        cwd: Path = ROOT,
    ) -> None:
        self.name = name
        self.port = port
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Before exec, so every thread the server starts inherits the CPU set.
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.pid)

    def workers(self) -> list[int]:
        """The server's worker processes (uvicorn --workers; not multiprocessing's resource tracker)."""
        found = []
        for child in descendants(self.pid):
            with contextlib.suppress(OSError):
                if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(child)
        return found

    def worker_cpu_seconds(self) -> dict[int, float]:
        """CPU seconds of each worker process (how uvicorn --workers spread the work)."""
        cpu = {}
        for child in self.workers():
            with contextlib.suppress(OSError):
                cpu[child] = cpu_seconds(child)
        return cpu

    def worker_sockets(self) -> dict[int, int]:
        """Open sockets of each worker process (its clients, plus its database and Redis connections)."""
        sockets = {}
        for child in self.workers():
            count = 0
            with contextlib.suppress(OSError):
                for fd in Path(f"/proc/{child}/fd").iterdir():
                    with contextlib.suppress(OSError):  # closed meanwhile
                        count += os.readlink(fd).startswith("socket:")
            sockets[child] = count
        return sockets

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def log_errors(self) -> dict[str, Any]:
        """How many tracebacks and ERROR lines the process logged, with the first few."""
        if not self.log_path.exists():
            return {"count": 0, "first": []}
        lines = self.log_path.read_text(errors="replace").splitlines()
        errors = [line for line in lines if " ERROR " in line or line.startswith(("ERROR", "Traceback"))]
        # The exception line that ends each traceback says what it was.
        kinds = [
            line
            for line in lines
            if line
            and not line.startswith((" ", "Traceback"))
            and "Error" in line
            and ":" in line
            and " ERROR " not in line
            and not line.startswith("ERROR")
        ]
        return {"count": len(errors), "first": errors[:3], "exceptions": sorted(set(kinds))[:5]}

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def wait_port(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not listen on {self.port} in {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def start_ours(
    kind: str,
    port: int,
    database_url: str,
    log_dir: Path,
    cpus: set[int] | None,
    redis_url: str | None = None,
    name: str | None = None,
    workers: int = 1,
) -> Process:
    command = {
        # An endpoint string, for a listen backlog above Twisted's default of 50, which
        # overflows in connection storms (uvicorn's default is 2,048, the same), and 30 s for a
        # handshake queued behind a storm (daphne's default of 5 s closed 44 of 5,000).
        "daphne": [
            "-m",
            "daphne",
            "-e",
            f"tcp:{port}:interface=127.0.0.1:backlog=2048",
            "--websocket_connect_timeout",
            "30",
            "--verbosity",
            "0",
        ],
        # As docs/deployment.md runs it in production: no permessage-deflate.
        "uvicorn": [
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--ws-per-message-deflate",
            "false",
        ],
    }[kind]
    if workers > 1:
        if kind != "uvicorn":
            raise ValueError("several processes on one port: uvicorn --workers only")
        command += ["--workers", str(workers)]
    env = base_env(DATABASE_URL=database_url, PORT=str(port))
    if redis_url:
        env["REDIS_URL"] = redis_url
    name = name or kind
    process = Process(
        name, [PYTHON, *command, "config.asgi:application"], log_dir / f"{name}-{port}.log", env, cpus, port
    )
    process.wait_port()
    if workers > 1:  # the port answers once the first worker listens; wait for all of them
        deadline = time.monotonic() + 60
        while len(process.workers()) < workers and time.monotonic() < deadline:
            time.sleep(0.2)
    return process


def ensure_peer_installed() -> None:
    if not (PEERS / "node_modules" / "socket.io").is_dir():
        print("Installing the Socket.IO peer: npm ci --prefix bench/peers", flush=True)
        subprocess.run(
            ["npm", "ci", "--prefix", str(PEERS), "--no-audit", "--no-fund"], check=True, stdout=subprocess.DEVNULL
        )


def node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def start_peer(
    port: int, log_dir: Path, cpus: set[int] | None, redis_url: str | None = None, name: str = "socketio"
) -> Process:
    env = {**os.environ, "PORT": str(port), "NODE_ENV": "production"}
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    process = Process(
        name, ["node", str(PEERS / "socketio_server.js")], log_dir / f"{name}-{port}.log", env, cpus, port, cwd=PEERS
    )
    process.wait_port()
    return process


class Redis:
    """A private redis-server (no persistence) on a free port; or an existing one given by URL."""

    def __init__(self, log_dir: Path, url: str | None = None) -> None:
        self.process: Process | None = None
        if url:
            self.url = url
        else:
            if shutil.which("redis-server") is None:
                raise RuntimeError("redis-server is not installed; pass --redis-url redis://127.0.0.1:6379/7")
            port = free_port()
            self.process = Process(
                "redis",
                [
                    "redis-server",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(log_dir),
                ],
                log_dir / "redis.log",
                dict(os.environ),
                None,
                port,
            )
            self.process.wait_port()
            self.url = f"redis://127.0.0.1:{port}/0"
        self.flush()

    def command_calls(self) -> dict[str, int]:
        """Calls of each Redis command since the server started (INFO commandstats), without
        the bench's own INFO and FLUSHDB calls."""
        import redis

        client = redis.Redis.from_url(self.url, lib_name=None, lib_version=None)  # no CLIENT SETINFO
        try:
            stats = client.info("commandstats")
        finally:
            client.close()
        calls = {key.removeprefix("cmdstat_"): value["calls"] for key, value in stats.items()}
        return {name: count for name, count in calls.items() if name not in ("info", "flushdb")}

    def flush(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            client.flushdb()
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class Database:
    """The seeded template and a fresh clone of it per server run."""

    def __init__(self, kind: str, workdir: Path, postgres_url: str) -> None:
        self.kind = kind
        self.workdir = workdir
        self.postgres_url = postgres_url.rstrip("/")
        self.prefix = f"bench_{os.getpid()}"
        self.clones: list[str] = []
        if kind == "sqlite":
            self.template_url = f"sqlite:///{workdir / 'template.sqlite3'}"
        else:
            self._admin(f'CREATE DATABASE "{self.prefix}_template"')
            self.clones.append(f"{self.prefix}_template")
            self.template_url = f"{self.postgres_url}/{self.prefix}_template"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{self.postgres_url}/postgres", autocommit=True) as connection:
            connection.execute(sql)

    def prepare(self, seed_args: list[str], seed_out: Path) -> None:
        env = base_env(DATABASE_URL=self.template_url)
        subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([PYTHON, "bench/seed.py", "--out", str(seed_out), *seed_args], cwd=ROOT, env=env, check=True)

    def clone(self, name: str) -> str:
        """A fresh copy of the seeded template; returns its DATABASE_URL."""
        if self.kind == "sqlite":
            path = self.workdir / f"{name}.sqlite3"
            shutil.copyfile(self.workdir / "template.sqlite3", path)
            return f"sqlite:///{path}"
        database = f"{self.prefix}_{name}"
        self._admin(f'CREATE DATABASE "{database}" TEMPLATE "{self.prefix}_template"')
        self.clones.append(database)
        return f"{self.postgres_url}/{database}"

    def backend_cpu(self) -> dict[int, float]:
        """CPU seconds of the PostgreSQL backends serving our databases, by pid (nothing for SQLite)."""
        if self.kind != "postgres":
            return {}
        cpu = {}
        marker = f" {self.prefix}_".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                title = (entry / "cmdline").read_bytes()  # a backend's title names its database
                if title.startswith(b"postgres: ") and marker in title:
                    cpu[int(entry.name)] = cpu_seconds(int(entry.name))
        return cpu

    def drop(self) -> None:
        if self.kind == "postgres":
            for database in reversed(self.clones):
                with contextlib.suppress(Exception):
                    self._admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            self.clones.clear()


def machine_info() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    meminfo = Path("/proc/meminfo").read_text().splitlines()[0].split()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "realtime", "chat", "config", "accounts"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_mib": int(meminfo[1]) // 1024,
        "kernel": os.uname().release,
        "python": sys.version.split()[0],
        "git_commit": commit,
        "git_dirty_server_code": bool(dirty),
    }
