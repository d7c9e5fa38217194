"""Server processes that keep a channel's recent messages between joins (chat.history) show
every change made anywhere in the very next join, without telling each other."""

import subprocess
import sys

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from chat.models import Channel, Membership
from chat.tests.conftest import make_moderator
from realtime.testing import ROOT, Peer, ServerProcess, run_scenario

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def test_a_change_made_anywhere_shows_in_the_next_join_on_every_process(servers, redis_url):
    ann = User.objects.create_user(username="ann", password="pw-123456789", display_name="Ann")
    ben = User.objects.create_user(username="ben", password="pw-123456789")
    mod = make_moderator(User.objects.create_user(username="mod", password="pw-123456789"))
    channel = Channel.objects.create(name="General", slug="general", created_by=ann)
    for user in (ann, ben):
        Membership.objects.create(channel=channel, user=user)
    env = {"REDIS_URL": redis_url}
    a, b = servers(env, name="a"), servers(env, name="b", kind="uvicorn")
    topic = f"chat:{channel.pk}"

    async def histories() -> list[list[tuple[str, str, bool]]]:
        """What a join on each process shows: (body, author's display name, deleted)."""
        seen = []
        for server in (a, b):
            peer = await Peer.connect(server.ws_url, str(AccessToken.for_user(ben)))
            reply = await peer.request(op="join", topic=topic)
            await peer.socket.close()
            assert reply["ok"], reply
            seen.append([(m["body"], m["author"]["display_name"], m["deleted"]) for m in reply["payload"]["messages"]])
        return seen

    async def as_ann(server: ServerProcess, event: str, **payload: object) -> dict[str, object]:
        peer = await Peer.connect(server.ws_url, str(AccessToken.for_user(ann)))
        assert (await peer.request(op="join", topic=topic))["ok"]
        reply = await peer.request(op="send", topic=topic, event=event, payload=payload)
        await peer.socket.close()
        assert reply["ok"], reply
        return reply["payload"]  # type: ignore[no-any-return]

    assert run_scenario(histories()) == [[], []]  # both processes now keep the channel's history
    message = run_scenario(as_ann(a, "message.create", body="one", client_id="1"))["message"]
    assert run_scenario(histories()) == [[("one", "Ann", False)]] * 2
    message_id = message["id"]  # type: ignore[index]
    run_scenario(as_ann(b, "message.update", id=message_id, body="one, edited"))
    assert run_scenario(histories()) == [[("one, edited", "Ann", False)]] * 2
    run_scenario(as_ann(a, "message.delete", id=message_id))
    assert run_scenario(histories()) == [[("", "Ann", True)]] * 2
    _in_a_shell(a, f"services.message_restore(user=User.objects.get(pk={mod.pk}), message_id={message_id})")
    assert run_scenario(histories()) == [[("one, edited", "Ann", False)]] * 2
    _in_a_shell(a, f"user = User.objects.get(pk={ann.pk}); user.display_name = 'Ann B.'; user.save()")
    assert run_scenario(histories()) == [[("one, edited", "Ann B.", False)]] * 2


def _in_a_shell(server: ServerProcess, code: str) -> None:
    # A process that runs no server (a shell, a worker, the admin elsewhere), sharing the database.
    code = f"from accounts.models import User; from chat import services; {code}"
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=server.env, check=True, timeout=60)
