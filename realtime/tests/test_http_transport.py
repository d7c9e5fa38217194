"""The HTTP transport's own rules (docs/protocol.md 1.1): sessions, the event stream, sends,
polls, credentials, origin, CSRF, expiry and switching transports. The protocol itself runs
on this transport through the whole protocol suite (realtime/tests/conftest.py)."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from realtime.testing import open_client, token_for
from realtime.testing_http import EventStream, asgi_request, session_headers

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def _bearer(user) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token_for(user)}".encode())]


async def _session(headers=None) -> str:
    created = await asgi_request("POST", "/rt/session", headers=headers)
    assert created.status == 201, created.body
    assert created.header(b"content-type") == "application/json"
    return created.json()["session"]


async def _post(session: str, frames, headers=None, content_type=b"application/json"):
    body = frames if isinstance(frames, bytes) else json.dumps(frames).encode()
    return await asgi_request(
        "POST", f"/rt/send?session={session}", body=body, headers=[*(headers or []), (b"content-type", content_type)]
    )


async def _poll(session: str, cursor: int, headers=None):
    return await asgi_request("GET", f"/rt/poll?session={session}&cursor={cursor}", headers=headers)


async def test_a_session_is_created_201_with_an_unguessable_id_and_its_stream_starts_with_hello():
    first, second = await _session(), await _session()
    assert first != second and len(first) >= 40
    stream = await EventStream(f"/rt/events?session={first}", [], ("127.0.0.1", 1)).open()
    assert stream.status == 200
    assert dict(stream.response_headers)[b"content-type"].startswith(b"text/event-stream")
    name, event_id, data = await asyncio.wait_for(stream.events.get(), 3)
    assert (name, event_id) == ("message", "1")
    assert json.loads(data)["op"] == "hello" and json.loads(data)["user"] is None
    await stream.close()


async def test_frames_posted_are_answered_202_and_replied_on_the_stream_in_order():
    client = await open_client(transport="http")
    response = await client.post_frames([{"op": "ping", "ref": str(n)} for n in range(5)])
    assert response.status == 202 and response.body == b""
    assert [(await client.receive())["ref"] for _ in range(5)] == ["0", "1", "2", "3", "4"]
    await client.disconnect()


async def test_text_plain_is_accepted_and_other_bodies_refused_changing_nothing():
    client = await open_client(transport="http")
    assert (await _post(client.session, [{"op": "ping", "ref": "t"}], content_type=b"text/plain")).status == 202
    assert (await client.receive())["ref"] == "t"
    assert (await _post(client.session, [{"op": "ping"}], content_type=b"application/xml")).status == 415
    assert (await _post(client.session, b"not json")).status == 400
    assert (await _post(client.session, {"op": "ping", "ref": "x"})).status == 400
    assert await client.nothing()
    await client.disconnect()


@pytest.mark.parametrize("count", [101, 1000])
async def test_more_than_100_frames_in_one_post_are_refused_and_none_handled(count):
    client = await open_client(transport="http")
    response = await _post(client.session, [{"op": "ping", "ref": str(n)} for n in range(count)])
    assert response.status == 413
    assert response.json()["code"] == "too_large"
    assert await client.nothing()
    await client.send(op="ping", ref="still-usable")
    assert (await client.receive())["ref"] == "still-usable"
    await client.disconnect()


@override_settings(REALTIME_MAX_FRAME_BYTES=1024)
async def test_an_oversized_post_is_413_and_an_oversized_frame_closes_4413_ending_the_session():
    client = await open_client(transport="http")
    too_big = [{"op": "ping", "ref": "x", "pad": "y" * 2000}] * 100
    assert (await _post(client.session, too_big)).status == 413
    assert await client.nothing()
    await client.post_frames([{"op": "ping", "ref": "big", "pad": "y" * 2000}])
    assert await client.close_code() == 4413
    assert (await _poll(client.session, 0)).status == 404
    await client.disconnect()


async def test_unknown_or_missing_session_ids_are_404_everywhere():
    for method, path in [
        ("GET", "/rt/events?session=nope-nope-nope-nope-nope"),
        ("GET", "/rt/poll?session=A" * 1 + "x" * 40 + "&cursor=0"),
        ("POST", "/rt/send?session=" + "x" * 43),
        ("DELETE", "/rt/session?session=" + "x" * 43),
        ("GET", "/rt/events"),
    ]:
        response = await asgi_request(method, path, body=b"[]", headers=[(b"content-type", b"application/json")])
        assert response.status == 404, (method, path, response.status)
        assert response.json()["code"] == "not_found"


async def test_another_identitys_credentials_get_404_none_are_served(make_user):
    ann, ben = await make_user("ann"), await make_user("ben")
    session = await _session(_bearer(ann))
    ben_cookie = await database_sync_to_async(_cookie)(ben)
    for headers in (_bearer(ben), session_headers(ben_cookie)):
        assert (await _poll(session, 0, headers)).status == 404
        assert (await _post(session, [{"op": "ping", "ref": "1"}], headers)).status == 404
    # No credentials: the id is the capability (EventSource cannot send headers).
    polled = await _poll(session, 0)
    assert polled.status == 200
    assert polled.json()["frames"][0]["user"]["username"] == "ann"
    # An anonymous session is not anybody's: a signed-in user's credentials do not fit it.
    anonymous = await _session()
    assert (await _poll(anonymous, 0, _bearer(ann))).status == 404
    assert (await _poll(session, 0, _bearer(ann))).status == 200


def _cookie(user) -> str:
    from realtime.testing import _session_cookie

    return _session_cookie(user)


async def test_a_bad_bearer_token_is_401_and_never_anonymous():
    response = await asgi_request("POST", "/rt/session", headers=[(b"authorization", b"Bearer not-a-jwt")])
    assert response.status == 401
    assert response.json()["code"] == "unauthorized"


async def test_cookie_authenticated_posts_need_the_csrf_token(make_user):
    ann = await make_user("ann")
    cookie = await database_sync_to_async(_cookie)(ann)
    bare = [(b"cookie", cookie.encode())]
    assert (await asgi_request("POST", "/rt/session", headers=bare)).status == 403
    with_csrf = session_headers(cookie)
    session = await _session(with_csrf)
    assert (await _post(session, [{"op": "ping", "ref": "1"}], bare)).status == 403
    assert (await _post(session, [{"op": "ping", "ref": "1"}], with_csrf)).status == 202
    polled = (await _poll(session, 0, bare)).json()
    assert polled["frames"][0]["user"]["username"] == "ann"
    assert [frame["op"] for frame in polled["frames"]][-1:] in (["pong"], ["hello"])


@pytest.mark.parametrize(
    ("origin", "status"),
    [(b"http://127.0.0.1:8000", 201), (b"https://127.0.0.1:8000", 403), (b"http://127.0.0.1.evil.com:8000", 403)],
)
async def test_the_origin_of_every_request_is_checked(origin, status):
    headers = [(b"origin", origin)]
    assert (await asgi_request("POST", "/rt/session", headers=headers)).status == status
    session = await _session()
    if status == 403:
        assert (await _poll(session, 0, headers)).status == 403
        assert (await _post(session, [{"op": "ping", "ref": "1"}], headers)).status == 403
        stream = await EventStream(f"/rt/events?session={session}", headers, ("127.0.0.1", 1)).open()
        assert stream.status == 403
        await stream.close()


async def test_poll_numbers_frames_as_the_stream_and_waits_for_the_first_one():
    session = await _session()
    first = (await _poll(session, 0)).json()
    assert first["cursor"] == 1 and first["frames"][0]["op"] == "hello"
    waiting = asyncio.ensure_future(_poll(session, 1))
    await asyncio.sleep(0.2)
    assert not waiting.done()  # nothing after the cursor yet: the poll waits
    assert (await _post(session, [{"op": "ping", "ref": "p"}])).status == 202
    answer = (await asyncio.wait_for(waiting, 5)).json()
    assert answer["cursor"] == 2 and answer["frames"][0]["op"] == "pong"
    # The stream and polls share the numbering: a stream resumed at 1 starts with the pong.
    stream = await EventStream(f"/rt/events?session={session}", [(b"last-event-id", b"1")], ("127.0.0.1", 1)).open()
    _, event_id, data = await asyncio.wait_for(stream.events.get(), 3)
    assert event_id == "2" and json.loads(data)["ref"] == "p"
    await stream.close()


async def test_a_reconnecting_stream_resumes_after_last_event_id_without_loss_or_duplicates():
    client = await open_client(transport="http")
    await client.join("test:resume")
    for n in range(3):
        assert (await client.send_event("test:resume", "echo", text=str(n)))["ok"]
    seen = [frame for frame in await client.drain(0.2) if frame.get("event") == "echoed"]
    await client.stream.close()
    # Frames written while no stream is open wait in the session.
    for n in range(3, 6):
        assert (
            await _post(
                client.session,
                [{"op": "send", "ref": f"s{n}", "topic": "test:resume", "event": "echo", "payload": {"text": str(n)}}],
            )
        ).status == 202
    headers = [(b"last-event-id", str(client.last_event_id).encode())]
    client.stream = await EventStream(f"/rt/events?session={client.session}", headers, ("127.0.0.1", 1)).open()
    frames = await client.until("echoed", where=lambda frame: frame["payload"]["text"] == "5")
    seen += [frame for frame in frames if frame.get("event") == "echoed"]
    assert [frame["payload"]["text"] for frame in seen] == [str(n) for n in range(6)]
    await client.disconnect()


async def test_delete_ends_the_session_and_its_presence(make_user):
    ann, ben = await make_user("ann"), await make_user("ben")
    watcher = await open_client(f"/ws/?token={token_for(ben)}", transport="websocket")
    await watcher.join("test:room")
    client = await open_client(f"/ws/?token={token_for(ann)}", transport="http")
    reply = await client.join("test:room")
    assert {user["username"] for user in reply["payload"]["presence"]} == {"ann", "ben"}
    await watcher.until("presence.diff", where=lambda frame: frame["payload"]["joins"])
    response = await asgi_request("DELETE", f"/rt/session?session={client.session}", headers=_bearer(ann))
    assert response.status == 204
    frames = await watcher.until("presence.diff", where=lambda frame: frame["payload"]["leaves"])
    assert [user["username"] for user in frames[-1]["payload"]["leaves"]] == ["ann"]
    assert (await _poll(client.session, 0)).status == 404
    await client.stream.close()
    await watcher.disconnect()


@override_settings(REALTIME_HEARTBEAT=1)
async def test_a_session_without_requests_or_stream_expires_after_3_heartbeats(make_user):
    ann, ben = await make_user("ann"), await make_user("ben")
    watcher = await open_client(f"/ws/?token={token_for(ben)}", transport="websocket")
    await watcher.join("test:idle")
    client = await open_client(f"/ws/?token={token_for(ann)}", transport="http")
    await client.join("test:idle")
    await client.stream.close()  # no stream, no request from now on
    started = asyncio.get_running_loop().time()

    async def keep_watcher_alive() -> None:
        while True:
            await watcher.send(op="ping")
            await asyncio.sleep(0.5)

    pinger = asyncio.ensure_future(keep_watcher_alive())
    while True:
        diff = await watcher.next_event("presence.diff", timeout=6)
        if diff["payload"]["leaves"]:
            break
    pinger.cancel()
    assert [user["username"] for user in diff["payload"]["leaves"]] == ["ann"]
    assert asyncio.get_running_loop().time() - started >= 2.5
    assert (await _poll(client.session, 0)).status == 404
    await watcher.disconnect()


@override_settings(REALTIME_HEARTBEAT=1)
async def test_an_open_stream_without_frames_gets_close_4408():
    client = await open_client(transport="http")
    assert await client.close_code(timeout=6) == 4408
    await client.disconnect()


@override_settings(REALTIME_RATE=(1000, 1000))
async def test_switching_websocket_http_websocket_during_traffic_loses_and_duplicates_nothing():
    publisher = await open_client(transport="websocket")
    await publisher.join("test:switch")
    total = 60
    seqs: list[int] = []

    async def publish() -> None:
        for n in range(total):
            assert (await publisher.send_event("test:switch", "echo", text=str(n)))["ok"]
            await asyncio.sleep(0.005)

    async def read(client, until_count: int) -> None:
        while len(seqs) < until_count:
            frame = await client.next_event("echoed", timeout=5)
            if not seqs or frame["seq"] > seqs[-1]:
                seqs.append(frame["seq"])

    task = asyncio.ensure_future(publish())
    since = 0
    for transport, count in (("websocket", 15), ("http", 35), ("websocket", total)):
        client = await open_client(transport=transport)
        reply = await client.join("test:switch", since=since)
        assert reply["ok"]
        for missed in reply["payload"]["missed"]:
            if not seqs or missed["seq"] > seqs[-1]:
                seqs.append(missed["seq"])
        await read(client, count)
        since = seqs[-1]
        await client.disconnect()
    await task
    await publisher.disconnect()
    assert seqs == list(range(seqs[0], seqs[0] + total)), "every event once, in order"
