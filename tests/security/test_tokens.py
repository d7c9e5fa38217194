"""Forged, expired and misused tokens are refused alike by REST and by the WebSocket."""

import base64
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.tests.factories import UserFactory
from realtime.testing import open_client

pytestmark = pytest.mark.django_db(transaction=True)


def _b64(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def bad_tokens(user) -> dict[str, str]:
    good = str(AccessToken.for_user(user))
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    expired = AccessToken.for_user(user)
    expired.set_exp(lifetime=-timedelta(seconds=5))
    return {
        "expired": str(expired),
        "bad signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "another user's claims under this signature": f"{header}.{_b64({**claims, 'user_id': '999'})}.{signature}",
        "refresh token used as access": str(RefreshToken.for_user(user)),
        "garbage": "not-a-token",
    }


CASES = ["expired", "bad signature", "alg none", "another user's claims under this signature",
         "refresh token used as access", "garbage"]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_rest_refuses_the_token(api_client, case):
    user = UserFactory()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {bad_tokens(user)[case]}")
    response = api_client.get("/api/users/me/")
    assert response.status_code == 401
    assert "username" not in response.json()


@pytest.mark.asyncio
@pytest.mark.parametrize("case", CASES)
async def test_the_websocket_refuses_the_token_before_hello(case):
    user = await database_sync_to_async(UserFactory)()
    token = await database_sync_to_async(bad_tokens)(user)
    client = await open_client(f"/ws/?token={token[case]}")
    assert client.hello is None and client.closed_with == 4401


@pytest.mark.asyncio
@pytest.mark.parametrize("case", CASES)
async def test_an_auth_frame_with_the_token_keeps_the_connection_anonymous(case):
    user = await database_sync_to_async(UserFactory)()
    token = await database_sync_to_async(bad_tokens)(user)
    client = await open_client()
    reply = await client.request(op="auth", token=token[case])
    assert reply["ok"] is False and reply["error"]["code"] == "unauthorized"
    assert (await client.join("inbox"))["error"]["code"] == "unauthorized"  # still nobody
    await client.disconnect()


def test_a_deactivated_users_token_is_refused(api_client):
    user = UserFactory()
    token = str(AccessToken.for_user(user))
    user.is_active = False
    user.save()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get("/api/users/me/").status_code == 401
