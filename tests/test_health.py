"""`/health` for load balancers: through the project's ASGI app, and through real server
processes whose Redis is stopped and started again."""

import asyncio
import http.client
import json
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis
from channels.testing import HttpCommunicator
from django.db import OperationalError, connection
from redis.backoff import NoBackoff
from redis.retry import Retry

from config import health
from conftest import running_in_ci
from realtime.testing import ServerProcess, free_port

PARTS = {"database", "channel_layer", "presence"}
# A host no ALLOWED_HOSTS lists: load balancers probe with the server's IP address.
PROBE_HOST = "10.0.0.7:8000"


@pytest.fixture
def app():
    from config.asgi import application

    return application


@pytest_asyncio.fixture(autouse=True)
async def close_check_clients():
    yield
    await health.close()


async def call(app, method: str = "GET", path: str = "/health", host: str = "127.0.0.1") -> dict[str, Any]:
    communicator = HttpCommunicator(app, method, path, headers=[(b"host", host.encode())])
    response = await communicator.get_response(timeout=5)
    await communicator.wait(timeout=5)  # Django closes the request body file after the response
    response["headers"] = {name.decode().lower(): value.decode() for name, value in response["headers"]}
    is_json = response["headers"].get("content-type") == "application/json" and response["body"]
    response["json"] = json.loads(response["body"]) if is_json else None
    return response


def expected_backends() -> dict[str, str]:
    from django.conf import settings

    return {
        "database": connection.vendor,
        "channel_layer": "redis" if settings.REDIS_URL else "memory",
        "presence": "redis" if settings.REDIS_URL else "local",
    }


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_health_is_200_when_every_part_answers(app):
    response = await call(app)

    assert response["status"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert response["headers"]["cache-control"] == "no-store"
    report = response["json"]
    assert report["status"] == "ok"
    assert set(report["checks"]) == PARTS
    assert {name: part["backend"] for name, part in report["checks"].items()} == expected_backends()
    assert all(part["ok"] and "error" not in part for part in report["checks"].values())
    assert isinstance(report["checks"]["database"]["ms"], float)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_health_head_sends_the_headers_only(app):
    response = await call(app, "HEAD")

    assert response["status"] == 200
    assert response["body"] == b""
    assert int(response["headers"]["content-length"]) > 0
    assert response["headers"]["cache-control"] == "no-store"


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
async def test_health_refuses_other_methods_with_405(app, method, monkeypatch):
    async def unexpected() -> dict[str, Any]:
        raise AssertionError("a refused method must not run the checks")

    monkeypatch.setattr(health, "run_checks", unexpected)

    response = await call(app, method)

    assert response["status"] == 405
    assert response["headers"]["allow"] == "GET, HEAD"
    assert response["json"]["code"] == "method_not_allowed"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_health_answers_a_host_that_django_refuses(app):
    assert (await call(app, path="/health/", host=PROBE_HOST))["status"] == 400  # Django's ALLOWED_HOSTS

    response = await call(app, host=PROBE_HOST)

    assert response["status"] == 200
    assert response["json"]["status"] == "ok"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_health_is_503_naming_an_unreachable_redis_without_its_password(app, settings):
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    settings.REDIS_URL, settings.REDIS_URLS = url, [url]
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": url, "socket_timeout": None}]},
        }
    }

    response = await call(app)

    assert response["status"] == 503
    checks = response["json"]["checks"]
    assert response["json"]["status"] == "error"
    assert checks["database"]["ok"] is True
    for name in ("channel_layer", "presence"):
        assert checks[name]["ok"] is False
        assert checks[name]["backend"] == "redis"
        assert "ConnectionError" in checks[name]["error"]
    assert b"hunter2" not in response["body"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_health_is_503_naming_a_failing_database(app, monkeypatch):
    def fail() -> str:
        raise OperationalError("connection to server at 127.0.0.1 failed:\n  the database system is starting up")

    monkeypatch.setattr(health, "_select_one", fail)

    response = await call(app)

    assert response["status"] == 503
    database = response["json"]["checks"]["database"]
    assert database == {
        "ok": False,
        "backend": connection.vendor,
        "error": "OperationalError: connection to server at 127.0.0.1 failed: the database system is starting up",
    }
    assert response["json"]["checks"]["channel_layer"]["ok"] is True


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_health_counts_a_part_that_does_not_answer_in_time_as_failing(app, monkeypatch):
    async def hang() -> dict[str, Any]:
        await asyncio.sleep(30)
        return {"ok": True}

    monkeypatch.setattr(health, "CHECK_TIMEOUT", 0.2)
    monkeypatch.setitem(health.CHECKS, "presence", hang)
    started = time.monotonic()

    response = await call(app)

    assert time.monotonic() - started < 2
    assert response["status"] == 503
    assert response["json"]["checks"]["presence"] == {"ok": False, "error": "no answer in 0.2 s"}
    assert response["json"]["checks"]["database"]["ok"] is True


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_health_probes_at_once_share_one_check(app, monkeypatch):
    rounds = 0
    check = health.CHECKS["channel_layer"]

    async def counted() -> dict[str, Any]:
        nonlocal rounds
        rounds += 1
        return await check()

    monkeypatch.setitem(health.CHECKS, "channel_layer", counted)
    endpoint = health.HealthEndpoint(app)

    responses = await asyncio.gather(*(call(endpoint) for _ in range(50)))

    assert {response["status"] for response in responses} == {200}
    assert rounds == 1
    monkeypatch.setattr(health, "CACHE_SECONDS", 0)
    assert (await call(endpoint))["status"] == 200
    assert rounds == 2


def test_error_text_hides_credentials():
    error = ValueError("cannot reach redis://app:s3cret@10.0.0.2:6379/0 (postgres://u:pw@db/x)")

    assert health.error_text(error) == "ValueError: cannot reach redis://***@10.0.0.2:6379/0 (postgres://***@db/x)"


# -- real server processes ------------------------------------------------------


class RedisServer:
    """A private redis-server on a free port, stopped and started again by the test."""

    def __init__(self, log_dir: Path) -> None:
        if shutil.which("redis-server") is None:
            if running_in_ci():
                pytest.fail("redis-server is missing in CI")
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start:\n{self.log_path.read_text()}") from None
                time.sleep(0.05)
            finally:
                client.close()

    def shutdown(self) -> None:
        # No retries: redis-py would otherwise retry (with backoff) the connection SHUTDOWN closes.
        redis.Redis(port=self.port, socket_timeout=2, retry=Retry(NoBackoff(), 0)).shutdown(nosave=True)
        assert self.process is not None
        self.process.wait(timeout=10)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def start_server(tmp_path):
    started: list[ServerProcess] = []

    def start(kind: str, env: dict[str, str] | None = None) -> ServerProcess:
        # Unbuffered: daphne writes its access log to stdout, block-buffered into a file otherwise.
        env = {"PYTHONUNBUFFERED": "1", **(env or {})}
        server = ServerProcess(free_port(), tmp_path, env, kind, kind, application="config.asgi:application").start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def probe(server: ServerProcess, method: str = "GET", path: str = "/health") -> tuple[int, dict[str, Any] | None]:
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        client.request(method, path, headers={"Host": PROBE_HOST})
        response = client.getresponse()
        body = response.read()
    finally:
        client.close()
    is_json = response.getheader("content-type") == "application/json" and body
    return response.status, json.loads(body) if is_json else None


def probe_until(server: ServerProcess, status: int, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        seen, report = probe(server)
        if seen == status:
            assert report is not None
            return report
        if time.monotonic() > deadline:
            raise AssertionError(f"/health stayed {seen} (wanted {status}): {report}")
        time.sleep(0.1)


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["uvicorn", "daphne"])
def test_health_names_channel_layer_and_presence_while_redis_is_stopped(kind, redis_server, start_server):
    server = start_server(kind, {"REDIS_URL": redis_server.url})
    report = probe_until(server, 200)
    assert report["checks"]["channel_layer"]["backend"] == "redis"
    assert report["checks"]["presence"]["backend"] == "redis"

    redis_server.shutdown()
    report = probe_until(server, 503)

    checks = report["checks"]
    assert report["status"] == "error"
    assert checks["database"]["ok"] is True
    assert {name for name, part in checks.items() if not part["ok"]} == {"channel_layer", "presence"}
    assert all(checks[name]["error"] for name in ("channel_layer", "presence"))

    redis_server.start()  # the same port
    report = probe_until(server, 200)
    assert all(part["ok"] for part in report["checks"].values())


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["uvicorn", "daphne"])
def test_health_stays_out_of_the_access_log(kind, start_server):
    server = start_server(kind)

    assert probe(server)[0] == 200
    assert probe(server, "HEAD")[0] == 200
    assert probe(server, path="/health?from=lb")[0] == 200
    assert probe(server, "POST")[0] == 405
    assert probe(server, path="/healthz")[0] == 400  # Django: the probe host is not in ALLOWED_HOSTS
    server.kill(signal.SIGTERM)

    requests = re.findall(r'"(?:GET|HEAD|POST) (/[^\s"]*)', server.log())
    assert "/healthz" in requests  # the access log is on, and other paths stay in it
    assert not [path for path in requests if path.split("?")[0] == "/health"]
