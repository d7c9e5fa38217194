"""Tokens and passwords never reach a log line: the project's own and daphne's and uvicorn's
(their access and error logs print request paths, query strings included)."""

import json

import pytest
import requests
from django.conf import global_settings
from rest_framework_simplejwt.tokens import AccessToken

from accounts.tests.factories import UserFactory
from realtime.testing import Peer, run_scenario

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-password-that-must-not-be-logged-9"


@pytest.mark.parametrize("kind", ["uvicorn", "daphne"])
def test_no_token_or_password_in_any_server_log_line(servers, kind, settings):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # the server verifies it
    user = UserFactory(username="ann", password=PASSWORD)
    server = servers({"LOG_LEVEL": "DEBUG"}, kind=kind)
    token = str(AccessToken.for_user(user))

    async def connect() -> None:
        peer = await Peer.connect(server.ws_url, token)
        assert peer.hello["user"]["username"] == "ann"
        await peer.socket.close()

    run_scenario(connect())
    login = requests.post(
        f"{server.url}/api/auth/token/?access_token={token}",
        json={"username": "ann", "password": PASSWORD},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    issued = login.json()
    log = server.log()
    assert "/ws/" in log  # the connection was logged...
    for secret in (token, token.split(".")[1], PASSWORD, issued["access"], issued["refresh"]):
        assert secret not in log  # ...without what would let anyone in


def test_json_logs_are_one_object_per_line_from_uvicorn_and_the_project(servers):
    server = servers({"LOG_FORMAT": "json"}, kind="uvicorn")

    async def connect() -> None:
        peer = await Peer.connect(server.ws_url)
        await peer.request(op="ping")
        await peer.socket.close()

    run_scenario(connect())
    assert requests.get(f"{server.url}/health", timeout=10).status_code == 200
    lines = [line for line in server.log().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line parses
    assert {entry["logger"] for entry in entries} >= {"uvicorn.error"}
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
