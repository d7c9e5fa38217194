"""REST throttles: real requests through DRF, counted in the real cache (LocMem, or Redis with
REDIS_URL), at the documented default rates; and across two server processes on Redis."""

import pytest
import requests
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Follow, User
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


WRONG_PASSWORD = "wrong-password"


def login(client: APIClient, username: str, password: str = WRONG_PASSWORD, **meta: str):
    return client.post("/api/auth/token/", {"username": username, "password": password}, format="json", **meta)


def assert_limited(response) -> int:
    """A 429 in the common error shape with Retry-After; returns the wait in seconds."""
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["code"] == "rate_limited"
    assert body["detail"].startswith("Too many requests")
    wait = body["fields"]["retry_after"]
    assert isinstance(wait, int) and wait >= 1
    assert response["Retry-After"] == str(wait)
    return wait


def test_login_is_limited_to_10_a_minute_per_account_from_any_address(api_client, ann, ben):
    for n in range(10):
        assert login(api_client, "ann", REMOTE_ADDR=f"198.51.100.{n}").status_code == 401

    limited = login(api_client, "ANN", DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.99")  # the right password too

    assert assert_limited(limited) <= 60
    assert "access" not in limited.json()
    assert login(api_client, "ben", DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.99").status_code == 200
    ann.refresh_from_db()
    assert ann.last_login is None


def test_login_is_limited_to_30_a_minute_per_address(api_client, ann):
    for n in range(30):
        assert login(api_client, f"guess{n}", REMOTE_ADDR="203.0.113.7").status_code == 401

    assert_limited(login(api_client, "ann", DEFAULT_PASSWORD, REMOTE_ADDR="203.0.113.7"))
    assert login(api_client, "ann", DEFAULT_PASSWORD, REMOTE_ADDR="203.0.113.8").status_code == 200


def test_registration_is_limited_to_10_an_hour_per_address(api_client):
    for n in range(10):
        response = api_client.post(
            "/api/auth/register/", {"username": f"new{n}", "password": "a-long-unusual-pass-7"}, format="json"
        )
        assert response.status_code == 201

    limited = api_client.post(
        "/api/auth/register/", {"username": "eleventh", "password": "a-long-unusual-pass-7"}, format="json"
    )

    assert 60 < assert_limited(limited) <= 3600
    assert not User.objects.filter(username="eleventh").exists()
    other = api_client.post(
        "/api/auth/register/",
        {"username": "elsewhere", "password": "a-long-unusual-pass-7"},
        format="json",
        REMOTE_ADDR="192.0.2.50",
    )
    assert other.status_code == 201


def test_token_refresh_is_limited_to_30_a_minute_per_address(api_client, ann):
    for _ in range(30):
        assert api_client.post("/api/auth/token/refresh/", {"refresh": "junk"}, format="json").status_code == 401

    pair = login(api_client, "ann", DEFAULT_PASSWORD)
    assert pair.status_code == 200
    assert_limited(api_client.post("/api/auth/token/refresh/", {"refresh": pair.json()["refresh"]}, format="json"))


def test_writes_are_limited_to_120_a_minute_per_user(api_client_as, ann, ben, cat):
    client = api_client_as(ann)
    for _ in range(60):
        assert client.post(f"/api/users/{ben.pk}/follow/").status_code == 201
        assert client.delete(f"/api/users/{ben.pk}/follow/").status_code == 204

    assert_limited(client.post(f"/api/users/{cat.pk}/follow/"))  # the 121st write changes nothing
    assert not Follow.objects.filter(follower=ann).exists()
    assert client.get("/api/users/me/").status_code == 200  # reads are not counted
    assert api_client_as(ben).post(f"/api/users/{cat.pk}/follow/").status_code == 201  # per user


def test_rates_are_settings(api_client, ann, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "login_account": "2/min"}
    assert login(api_client, "ann").status_code == 401
    assert login(api_client, "ann").status_code == 401
    assert_limited(login(api_client, "ann"))

    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "login_account": None, "login_address": None}
    assert all(login(api_client, "ann").status_code == 401 for _ in range(40))


def test_forwarded_for_from_an_untrusted_peer_is_ignored(api_client, ann):
    for n in range(30):
        response = login(api_client, f"guess{n}", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"10.1.2.{n}")
        assert response.status_code == 401

    assert_limited(
        login(api_client, "ann", DEFAULT_PASSWORD, REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="1.2.3.4")
    )


def test_a_trusted_proxy_names_the_client(api_client, ann, settings):
    import ipaddress

    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/24")]
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for n in range(30):
        # The client spoofs the left part; the trusted proxy appends the address it saw.
        forwarded = f"7.7.7.{n}, 198.51.100.20, 10.0.0.9"
        assert login(api_client, f"guess{n}", HTTP_X_FORWARDED_FOR=forwarded, **proxy).status_code == 401

    assert_limited(login(api_client, "ann", DEFAULT_PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.20", **proxy))
    # Another client behind the same proxy has its own count.
    assert login(api_client, "ann", DEFAULT_PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.21", **proxy).status_code == 200


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_limits_hold_across_processes_on_redis(servers, redis_url):
    UserFactory(username="ann")
    env = {"REDIS_URL": redis_url}
    a, b = servers(env, name="a"), servers(env, name="b", kind="uvicorn")

    def attempt(server):
        return requests.post(
            f"{server.url}/api/auth/token/", json={"username": "ann", "password": "wrong-password"}, timeout=10
        )

    statuses = [attempt(a if n % 2 else b).status_code for n in range(10)]
    assert statuses == [401] * 10
    for server in (a, b):
        limited = attempt(server)
        assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1


def test_the_login_page_shares_the_sign_in_limits(ann):
    page = Client()
    for n in range(10):  # half through the page, half through the API
        if n % 2:
            assert page.post("/accounts/login/", {"username": "ann", "password": WRONG_PASSWORD}).status_code == 200
        else:
            assert login(APIClient(), "ann").status_code == 401

    refused = page.post("/accounts/login/", {"username": "ann", "password": DEFAULT_PASSWORD})

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Too many sign-in attempts; try again in" in refused.content.decode()
    assert "_auth_user_id" not in page.session
    assert page.get("/api/users/me/").status_code == 401
