"""Server processes that keep users between connects see a change made anywhere on the next
connect: each reads the user's generation from the shared Redis."""

import subprocess
import sys

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from realtime.testing import ROOT, Peer, ServerProcess, run_scenario

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def test_a_user_changed_in_another_process_is_seen_by_the_next_connect_everywhere(servers, redis_url):
    ann = User.objects.create_user(username="ann", password="pw-123456789")
    env = {"REDIS_URL": redis_url}
    a, b = servers(env, name="a"), servers(env, name="b", kind="uvicorn")
    token = str(AccessToken.for_user(ann))

    async def usernames() -> list[str]:
        names = []
        for server in (a, b):
            peer = await Peer.connect(server.ws_url, token)
            names.append(peer.hello["user"]["username"])
            await peer.socket.close()
        return names

    async def refused() -> list[int | None]:
        import websockets

        codes = []
        for server in (a, b):
            socket = await websockets.connect(f"{server.ws_url}?token={token}")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await socket.recv()
            codes.append(closed.value.rcvd.code if closed.value.rcvd is not None else None)
            await socket.close()
        return codes

    assert run_scenario(usernames()) == ["ann", "ann"]  # both processes now hold ann
    _save_in_a_shell(a, ann.pk, "user.username = 'anne'")
    assert run_scenario(usernames()) == ["anne", "anne"]
    _save_in_a_shell(a, ann.pk, "user.is_active = False")
    assert run_scenario(refused()) == [4401, 4401]


def _save_in_a_shell(server: ServerProcess, user_id: int, change: str) -> None:
    # A plain save() in a process that runs no server (a shell, a worker), sharing Redis.
    code = f"from accounts.models import User; user = User.objects.get(pk={user_id}); {change}; user.save()"
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=server.env, check=True, timeout=60)
