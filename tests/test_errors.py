"""One error shape on REST: every kind of error, DRF's own included, is `{"code", "detail", "fields"?}`,
the WebSocket error object's shape (docs/protocol.md section 2) with `detail` for `message`."""

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from chat.tests.factories import ChannelFactory
from realtime.testing import open_client, token_for


def as_user(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) <= {"code", "detail", "fields"} and {"code", "detail"} <= set(body), body
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    if "fields" in body:
        assert isinstance(body["fields"], dict) and body["fields"]
    return body


CASES = {
    "serializer validation": (
        lambda ann, ben: as_user(ann).post("/api/chat/channels/", {}, format="json"),
        400,
        "invalid",
    ),
    "domain validation": (lambda ann, ben: as_user(ann).post(f"/api/users/{ann.pk}/follow/"), 400, "invalid"),
    "query validation": (lambda ann, ben: as_user(ann).get("/api/chat/channels/?joined=maybe"), 400, "invalid"),
    "malformed JSON": (
        lambda ann, ben: as_user(ann).post("/api/chat/channels/", '{"name": ', content_type="application/json"),
        400,
        "bad_request",
    ),
    "not signed in": (lambda ann, ben: APIClient().get("/api/users/me/"), 401, "unauthorized"),
    "bad token": (
        lambda ann, ben: APIClient().get("/api/users/me/", HTTP_AUTHORIZATION="Bearer not.a.token"),
        401,
        "unauthorized",
    ),
    "wrong password": (
        lambda ann, ben: APIClient().post("/api/auth/token/", {"username": "ann", "password": "nope"}, format="json"),
        401,
        "unauthorized",
    ),
    "permission": (
        lambda ann, ben: as_user(ben).patch(f"/api/chat/channels/{ann.channel.pk}/", {"name": "x"}),
        403,
        "forbidden",
    ),
    "CSRF": (lambda ann, ben: _session_client(ann).patch("/api/users/me/", {"display_name": "x"}), 403, "forbidden"),
    "domain not found": (lambda ann, ben: as_user(ann).get("/api/users/999999/"), 404, "not_found"),
    "page past the end": (lambda ann, ben: as_user(ann).get("/api/users/?page=99"), 404, "not_found"),
    "no such URL": (lambda ann, ben: as_user(ann).get("/api/no-such-endpoint/"), 404, "not_found"),
    "method not allowed": (lambda ann, ben: as_user(ann).put("/api/users/me/", {}), 405, "method_not_allowed"),
    "not acceptable": (
        lambda ann, ben: as_user(ann).get("/api/users/me/", HTTP_ACCEPT="application/xml"),
        406,
        "not_acceptable",
    ),
    "unsupported media type": (
        lambda ann, ben: as_user(ann).post("/api/chat/channels/", "name=x", content_type="text/plain"),
        415,
        "unsupported_media_type",
    ),
    "conflict": (lambda ann, ben: _follow_twice(ann, ben), 409, "conflict"),
}


def _session_client(user: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _follow_twice(ann: Any, ben: Any) -> Any:
    as_user(ann).post(f"/api/users/{ben.pk}/follow/")
    return as_user(ann).post(f"/api/users/{ben.pk}/follow/")


@pytest.mark.django_db
@pytest.mark.parametrize("kind", CASES)
def test_every_kind_of_rest_error_has_the_common_shape(kind):
    ann, ben = UserFactory(username="ann"), UserFactory(username="ben")
    ann.channel = ChannelFactory(name="Ann's", slug="anns", created_by=ann)
    request, status, code = CASES[kind]

    body = assert_error(request(ann, ben), status, code)

    if code == "invalid":
        assert body.get("fields") or kind == "domain validation", body


@pytest.mark.django_db
def test_validation_names_each_field_with_its_first_problem(api_client_as, ann):
    response = api_client_as(ann).post("/api/chat/channels/", {"name": "", "is_private": "sometimes"}, format="json")

    body = assert_error(response, 400, "invalid")
    assert body["detail"] == "Some fields are invalid."
    assert set(body["fields"]) == {"name", "is_private"}
    assert all(isinstance(problem, str) for problem in body["fields"].values())


@pytest.mark.django_db
def test_throttled_requests_get_the_common_shape_and_retry_after(api_client_as, ann, ben, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "writes": "1/min"}
    client = api_client_as(ann)
    assert client.post(f"/api/users/{ben.pk}/follow/").status_code == 201

    body = assert_error(client.delete(f"/api/users/{ben.pk}/follow/"), 429, "rate_limited")
    assert 1 <= body["fields"]["retry_after"] <= 60


@pytest.mark.django_db
def test_domain_rate_limits_carry_retry_after_too(api_client, ann):
    from shares.services import share_create

    share = share_create(user=ann, title="S", kind="password", password="right-password")
    # Five wrong passwords lock the address out of the share (shares' own limit, a domain error).
    responses = [api_client.get(f"/api/s/{share.token}/", HTTP_X_SHARE_PASSWORD="wrong") for _ in range(6)]

    body = assert_error(responses[-1], 429, "rate_limited")
    assert body["fields"]["retry_after"] >= 1
    assert int(responses[-1]["Retry-After"]) >= 1


def test_unexpected_errors_under_api_are_json_in_the_common_shape():
    from config import urls
    from config.api import server_error

    assert urls.handler500 == "config.api.server_error"
    response = server_error(RequestFactory().get("/api/chat/channels/"))

    assert response.status_code == 500
    assert json.loads(response.content) == {"code": "server_error", "detail": "Something went wrong."}
    assert server_error(RequestFactory().get("/chat/"))["Content-Type"].startswith("text/html")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_rest_and_websocket_report_the_same_invalid_payload_alike():
    ann = await database_sync_to_async(UserFactory)(username="ann")
    channel = await database_sync_to_async(ChannelFactory)(name="General", slug="general", created_by=ann)
    topic = f"chat:{channel.pk}"
    ws = await open_client(f"/ws/?token={token_for(ann)}")
    try:
        assert (await ws.join(topic))["ok"]
        ws_error = (await ws.send_event(topic, "message.create", body="", client_id="c1"))["error"]
    finally:
        await ws.disconnect()

    rest = await database_sync_to_async(
        lambda: as_user(ann).post(f"/api/chat/channels/{channel.pk}/messages/", {"body": ""}, format="json")
    )()

    body = assert_error(rest, 400, "invalid")
    assert ws_error["code"] == body["code"] == "invalid"
    assert ws_error["message"] == body["detail"]
    assert ws_error["fields"]["body"] == body["fields"]["body"]
