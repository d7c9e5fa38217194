"""Protocol v1 over a real ASGI stack (docs/protocol.md sections 1-3)."""

import time

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from realtime.testing import eventually, open_client, token_for

User = get_user_model()
pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def test_hello_anonymous():
    client = await open_client()
    assert client.hello["op"] == "hello"
    assert client.hello["protocol"] == 1
    assert client.hello["user"] is None
    assert client.hello["heartbeat"] == 25
    assert client.hello["limits"] == {"max_frame_bytes": 65536, "max_topics": 100}
    assert len(client.hello["conn"]) >= 8
    await client.disconnect()


async def test_hello_with_query_token_names_the_user(make_user):
    ann = await make_user("ann")
    client = await open_client(f"/ws/?token={token_for(ann)}")
    assert client.hello["user"] == {"id": ann.pk, "username": "ann", "display_name": "Ann"}
    await client.disconnect()


async def test_bad_query_token_closes_4401_before_hello():
    client = await open_client("/ws/?token=not-a-jwt")
    assert client.hello is None
    assert client.closed_with == 4401
    await client.disconnect()


async def test_session_cookie_identifies_the_user(make_user):
    ann = await make_user("ann")
    client = await open_client(session_user=ann)
    assert client.hello["user"]["username"] == "ann"
    await client.disconnect()


async def test_ping_pong_echoes_ref():
    client = await open_client()
    await client.send(op="ping", ref="p-1")
    pong = await client.receive()
    assert pong["op"] == "pong" and pong["ref"] == "p-1"
    assert pong["server_time"].endswith(("Z", "+00:00"))
    await client.disconnect()


@pytest.mark.parametrize(
    ("frame", "has_ref"),
    [
        ("not json", False),
        ("[1, 2]", False),
        ('{"op": "dance", "ref": "9"}', True),
        ('{"op": "ping"}', False),
        ('{"op": "join", "ref": "9"}', True),
        ('{"op": "join", "ref": "9", "topic": "nope:1"}', True),
        ('{"op": "send", "ref": "9", "topic": "test:a", "payload": {}}', True),
        ('{"op": "join", "ref": "9", "topic": "test:a", "params": [1]}', True),
    ],
)
async def test_malformed_frames_get_bad_request_and_connection_stays_usable(frame, has_ref):
    client = await open_client()
    await client.ws.send_to(text_data=frame)
    answer = await client.receive()
    if has_ref:
        assert answer["op"] == "reply" and answer["ref"] == "9" and answer["ok"] is False
    else:
        assert answer["op"] == "error"
    assert answer["error"]["code"] == "bad_request"
    assert answer["error"]["message"]
    await client.send(op="ping", ref="after")
    assert (await client.receive())["op"] == "pong"
    await client.disconnect()


async def test_binary_frame_is_bad_request():
    client = await open_client()
    await client.ws.send_to(bytes_data=b"\x00\x01")
    answer = await client.receive()
    assert answer["op"] == "error" and answer["error"]["code"] == "bad_request"
    await client.disconnect()


@override_settings(REALTIME_RATE=(100, 100))
async def test_repeated_garbage_closes_4400():
    client = await open_client()
    for _ in range(11):
        await client.ws.send_to(text_data="garbage")
    assert await client.close_code() == 4400
    await client.disconnect()


@override_settings(REALTIME_MAX_FRAME_BYTES=1024)
async def test_oversized_frame_closes_4413():
    client = await open_client()
    await client.send(op="ping", ref="x" * 10, pad="y" * 2000)
    assert await client.close_code() == 4413
    await client.disconnect()


@override_settings(REALTIME_RATE=(3, 1))
async def test_rate_limit_replies_then_closes_4429():
    client = await open_client()
    for i in range(3):
        await client.send(op="ping", ref=f"ok{i}")
        assert (await client.receive())["op"] == "pong"
    await client.send(op="ping", ref="limited")
    reply = await client.receive()
    assert reply["ref"] == "limited" and reply["error"]["code"] == "rate_limited"
    assert 0 < reply["error"]["fields"]["retry_after"] <= 1
    for _ in range(3):
        await client.send(op="ping")
    assert await client.close_code() == 4429
    await client.disconnect()


@override_settings(REALTIME_HEARTBEAT=1)
async def test_idle_connection_closes_4408():
    client = await open_client()
    assert await client.close_code(timeout=6) == 4408
    await client.disconnect()


async def test_join_unknown_object_is_not_found_then_anonymous_is_unauthorized():
    client = await open_client()
    missing = await client.join("test:missing")
    assert missing["error"]["code"] == "not_found"
    private = await client.join("test:private")
    assert private["error"]["code"] == "unauthorized"
    await client.disconnect()


async def test_join_forbidden_for_other_user(make_user):
    ann = await make_user("ann")
    client = await open_client(f"/ws/?token={token_for(ann)}")
    reply = await client.join("test:private")
    assert reply["error"]["code"] == "forbidden"
    await client.disconnect()


async def test_invalid_params_listed_in_fields():
    client = await open_client()
    reply = await client.join("test:a", color=5)
    assert reply["error"]["code"] == "invalid" and reply["error"]["fields"] == {"color": "Must be a string."}
    bad_since = await client.join("test:a", since="x")
    assert bad_since["error"]["code"] == "invalid" and "since" in bad_since["error"]["fields"]
    await client.disconnect()


async def test_join_reply_has_presence_and_stream_state(make_user):
    ann = await make_user("ann")
    client = await open_client(f"/ws/?token={token_for(ann)}")
    reply = await client.join("test:a")
    assert reply["ok"] is True
    payload = reply["payload"]
    assert payload["room"] == "a"
    assert payload["missed"] == [] and payload["reset"] is False and payload["seq"] == 0
    assert payload["presence"] == [{"id": ann.pk, "username": "ann", "display_name": "Ann"}]
    assert payload["presence_count"] == 1
    await client.disconnect()


async def test_send_and_leave_require_join():
    client = await open_client()
    send = await client.request(op="send", topic="test:a", event="echo", payload={})
    assert send["error"]["code"] == "not_joined"
    leave = await client.request(op="leave", topic="test:a")
    assert leave["error"]["code"] == "not_joined"
    unknown_event = await client.request(op="send", topic="test:a", event="nope", payload={})
    assert unknown_event["error"]["code"] == "bad_request"
    await client.disconnect()


async def test_send_reaches_every_connection_including_sender():
    a, b = await open_client(), await open_client()
    await a.join("test:room")
    await b.join("test:room")
    reply = await a.request(op="send", topic="test:room", event="echo", payload={"text": "hi"})
    assert reply["ok"] and reply["payload"]["seq"] == 1
    for client in (a, b):
        event = await client.next_event("echoed")
        assert event == {"op": "event", "topic": "test:room", "event": "echoed", "payload": {"text": "hi"}, "seq": 1}
    await a.disconnect()
    await b.disconnect()


async def test_inline_event_excludes_sender_and_is_throttled():
    a, b = await open_client(), await open_client()
    await a.join("test:room")
    await b.join("test:room")
    await a.drain()
    await b.drain()
    await a.request(op="send", topic="test:room", event="shout", payload={"text": "one"})
    await a.request(op="send", topic="test:room", event="shout", payload={"text": "two"})
    event = await b.next_event("shouted")
    assert event["payload"] == {"text": "one"} and "seq" not in event
    # A persisted echo after both shouts is the marker: the throttled one would come before it.
    await a.request(op="send", topic="test:room", event="echo", payload={"text": "marker"})
    assert [frame.get("event") for frame in await b.until("echoed")] == ["echoed"]
    assert [frame.get("event") for frame in await a.until("echoed")] == ["echoed"]  # never the sender's own
    await a.disconnect()
    await b.disconnect()


async def test_join_state_is_cached_for_sends(make_user):
    ann = await make_user("ann")
    client = await open_client(f"/ws/?token={token_for(ann)}")
    await client.join("test:room")
    reply = await client.request(op="send", topic="test:room", event="whoami", payload={})
    assert reply["payload"] == {"state": {"joined_as": "ann"}}
    await client.disconnect()


async def test_payload_must_be_object_and_handler_errors_carry_fields():
    client = await open_client()
    await client.join("test:room")
    not_object = await client.request(op="send", topic="test:room", event="echo", payload=[1])
    assert not_object["error"]["code"] == "invalid"
    failed = await client.request(op="send", topic="test:room", event="fail", payload={})
    assert failed["error"] == {
        "code": "invalid",
        "message": "Some fields are invalid.",
        "fields": {"text": "Always fails."},
    }
    await client.disconnect()


@override_settings(REALTIME_MAX_TOPICS=2)
async def test_max_topics_and_idempotent_join():
    client = await open_client()
    assert (await client.join("test:a"))["ok"]
    assert (await client.join("test:a"))["ok"]
    assert (await client.join("test:b"))["ok"]
    reply = await client.join("test:c")
    assert reply["error"]["code"] == "too_many_topics"
    await client.request(op="leave", topic="test:a")
    assert (await client.join("test:c"))["ok"]
    await client.disconnect()


async def test_leave_stops_events():
    a, b = await open_client(), await open_client()
    await a.join("test:room")
    await b.join("test:room")
    assert (await b.request(op="leave", topic="test:room"))["ok"]
    await a.join("test:marker")
    await b.join("test:marker")
    await a.request(op="send", topic="test:room", event="echo", payload={"text": "x"})
    await a.request(op="send", topic="test:marker", event="echo", payload={"text": "marker"})
    # One hub delivers both topics in publish order: the room's event would come before the marker.
    assert [(frame["topic"], frame.get("event")) for frame in await b.until("echoed")] == [("test:marker", "echoed")]
    await a.disconnect()
    await b.disconnect()


async def test_auth_frame_sets_user_and_bad_token_keeps_identity(make_user):
    ann = await make_user("ann")
    client = await open_client()
    bad = await client.request(op="auth", token="garbage")
    assert bad["error"]["code"] == "unauthorized"
    good = await client.request(op="auth", token=token_for(ann))
    assert good["ok"] and good["payload"]["user"]["username"] == "ann"
    again_bad = await client.request(op="auth", token="garbage")
    assert again_bad["error"]["code"] == "unauthorized"
    private = await client.join("test:private")
    assert private["error"]["code"] == "forbidden"  # still ann, not anonymous
    await client.disconnect()


async def test_token_expiry_closes_4401(make_user):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    ann = await make_user("ann")
    token = AccessToken.for_user(ann)
    # SimpleJWT truncates `exp` to whole seconds: 2 s gives 1-2 s to live, never less.
    token.set_exp(lifetime=timedelta(seconds=2))
    client = await open_client(f"/ws/?token={token}")
    assert client.hello["user"]["username"] == "ann"
    assert await client.close_code(timeout=5) == 4401
    assert time.time() >= token["exp"]  # closed at expiry, not before
    await client.disconnect()


async def test_fresh_auth_extends_connection(make_user):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    ann = await make_user("ann")
    short = AccessToken.for_user(ann)
    short.set_exp(lifetime=timedelta(seconds=2))  # 1-2 s to live (exp is whole seconds)
    client = await open_client(f"/ws/?token={short}")
    assert (await client.request(op="auth", token=token_for(ann)))["ok"]
    # Wait out the first token's lifetime: the connection must outlive it.
    await eventually(lambda: time.time() > short["exp"] + 0.3, what="the first token to expire")
    await client.send(op="ping", ref="alive")
    assert (await client.receive())["op"] == "pong"
    await client.disconnect()


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),
        (b"http://127.0.0.1:8000", True),
        (b"http://localhost:8000", True),
        (b"https://127.0.0.1:8000", False),
        (b"http://127.0.0.1:9000", False),
        (b"http://127.0.0.1.evil.com:8000", False),
        (b"null", False),
    ],
)
async def test_origin_must_match_scheme_host_and_port(origin, allowed):
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    headers = [(b"origin", origin)] if origin else []
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    assert connected is allowed
    if not allowed:
        assert code == 4403
    await communicator.disconnect()


async def test_revoke_removes_everyone_after_the_explaining_event():
    a, b = await open_client(), await open_client()
    await a.join("test:room")
    await b.join("test:room")
    assert (await a.request(op="send", topic="test:room", event="end", payload={}))["ok"]
    for client in (a, b):
        ended = await client.next_event("ended")
        assert ended["payload"] == {"at": ended["seq"]}
    await b.drain()
    reply = await b.request(op="send", topic="test:room", event="echo", payload={})
    assert reply["error"]["code"] == "not_joined"
    assert (await b.join("test:room"))["ok"]  # a re-join is authorised afresh
    await a.disconnect()
    await b.disconnect()
