"""A share room across two server processes sharing Redis and the database: counts, delivery,
REST's room, kicks and the password limit span both."""

import asyncio
import json
import urllib.request

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from realtime.testing import Peer, run_scenario
from shares import services
from shares.models import Share

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def test_viewer_on_one_process_owner_on_the_other_and_limits_on_both(servers, redis_url, settings):
    # The server processes check passwords with the project's hashers, not the tests' fast MD5.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    ann = User.objects.create_user(username="ann", password="pw-123456789", display_name="Ann")
    goal = services.goal_create(user=ann, title="Run", target=10)
    share = services.share_create(user=ann, title="Cross", kind=Share.Kind.PASSWORD, password="open-sesame")
    locked = services.share_create(user=ann, title="Locked", kind=Share.Kind.PASSWORD, password="open-sesame")
    env = {"REDIS_URL": redis_url}
    a, b = servers(env, name="a"), servers(env, name="b", kind="uvicorn")
    topic = f"share:{share.token}"

    async def scenario() -> None:
        viewer_a = await Peer.connect(a.ws_url)
        first_reply = await viewer_a.request(op="join", topic=topic, params={"password": "open-sesame"})
        assert first_reply["ok"] and first_reply["payload"]["room"]["viewers"] == 1
        viewer_b = await Peer.connect(b.ws_url)
        assert (await viewer_b.request(op="join", topic=topic, params={"password": "open-sesame"}))["ok"]
        owner_b = await Peer.connect(b.ws_url, str(AccessToken.for_user(ann)))
        reply = await owner_b.request(op="join", topic=topic)
        assert reply["payload"]["role"] == "owner"
        assert reply["payload"]["room"]["viewers"] == 2 and reply["payload"]["room"]["owner_online"] is True

        # REST reads the same room through presence, from a view's thread.
        request = urllib.request.Request(  # noqa: S310 (a local test server)
            f"{a.url}/api/s/{share.token}/", headers={"X-Share-Password": "open-sesame"}
        )
        view = await asyncio.to_thread(lambda: json.loads(urllib.request.urlopen(request, timeout=10).read()))  # noqa: S310
        assert view["room"]["viewers"] == 2 and view["room"]["owner_online"] is True

        # The viewer on a counts everyone on both processes.
        room = await viewer_a.event(
            "room.updated", where=lambda f: f["payload"]["viewers"] == 2 and f["payload"]["owner_online"]
        )
        assert room["payload"]["online"][0]["role"] == "owner"

        published = await owner_b.request(
            op="send",
            topic=topic,
            event="progress.publish",
            payload={"type": "progress", "data": {"goal": goal.pk, "delta": 4}},
        )
        assert published["ok"], published
        progress = await viewer_a.event("progress.updated")
        assert progress["payload"]["goal"]["current"] == 4

        # Kicking the anonymous viewer on a from the owner on b.
        kicked_id = first_reply["payload"]["room"]["online"][0]["id"]  # viewer_a alone then
        assert (await owner_b.request(op="send", topic=topic, event="viewer.kick", payload={"viewer": kicked_id}))["ok"]
        assert (await viewer_a.event("share.kicked"))["payload"] == {"viewer": kicked_id}
        assert await viewer_a.close_code() == 4403
        left = await owner_b.event("room.updated", where=lambda f: f["payload"]["viewers"] == 1)
        assert left["payload"]["owner_online"] is True
        # Banned on every process: 127.0.0.1 may not come back through b either.
        again = await Peer.connect(b.ws_url)
        refused = await again.request(op="join", topic=topic, params={"password": "open-sesame"})
        assert refused["error"]["code"] == "forbidden"
        for peer in (viewer_b, owner_b, again):
            await peer.socket.close()

        # The password limit: five wrong passwords spread over both processes lock the address
        # out of that share on both, the right password included.
        on_a, on_b = await Peer.connect(a.ws_url), await Peer.connect(b.ws_url)
        for attempt in range(5):
            peer = on_a if attempt % 2 else on_b
            reply = await peer.request(op="join", topic=f"share:{locked.token}", params={"password": f"no-{attempt}"})
            assert reply["error"]["code"] == "forbidden"
        for peer in (on_a, on_b):
            refused = await peer.request(op="join", topic=f"share:{locked.token}", params={"password": "open-sesame"})
            assert refused["error"]["code"] == "rate_limited" and refused["error"]["fields"]["retry_after"] > 590
            await peer.socket.close()

    run_scenario(scenario())
