"""/api/docs/ serves Swagger UI from this server (drf-spectacular-sidecar), and CORS for SPAs
on other origins (django-cors-headers) is off unless CORS_ALLOWED_ORIGINS lists them."""

import re

import pytest
from django.test import Client

from config.env import Env

pytestmark = pytest.mark.django_db


def asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)


def test_docs_page_references_only_local_assets():
    client = Client()
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    urls = asset_urls(html)
    assert any(url.endswith("swagger-ui-bundle.js") for url in urls), urls
    for url in urls:
        assert url.startswith("/static/drf_spectacular_sidecar/swagger-ui-dist/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert b"".join(asset.streaming_content if asset.streaming else [asset.content])
    assert not re.search(r"https?://|//cdn|jsdelivr|unpkg", html), "the page names a remote host"
    assert '"validatorUrl": null' in html  # no online validator badge either


def test_docs_page_loads_the_schema_from_this_server():
    html = Client().get("/api/docs/").content.decode()

    assert '"/api/schema/"' in html
    assert Client().get("/api/schema/").status_code == 200


SPA = "https://spa.example.com"


def preflight(client: Client, path: str = "/api/users/me/", origin: str = SPA):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


def test_cors_is_off_by_default(settings):
    assert settings.CORS_ALLOWED_ORIGINS == []
    client = Client()

    assert "Access-Control-Allow-Origin" not in preflight(client)
    assert "Access-Control-Allow-Origin" not in client.get("/api/users/me/", HTTP_ORIGIN=SPA)


def test_cors_allows_listed_origins_only_on_the_api(settings, api_client_as, ann):
    settings.CORS_ALLOWED_ORIGINS = [SPA, "http://localhost:5173"]

    allowed = preflight(Client())
    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == SPA
    assert "authorization" in allowed["Access-Control-Allow-Headers"]
    assert "PATCH" in allowed["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in allowed  # JWT in a header, never cookies

    response = api_client_as(ann).get("/api/users/me/", HTTP_ORIGIN="http://localhost:5173")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "Retry-After" in response["Access-Control-Expose-Headers"]

    for origin in ("https://evil.example.com", "http://spa.example.com", "https://spa.example.com:8443", "null"):
        assert "Access-Control-Allow-Origin" not in preflight(Client(), origin=origin), origin
    # Pages and the WebSocket are not for other origins (REALTIME_ALLOWED_ORIGINS guards /ws/).
    assert "Access-Control-Allow-Origin" not in Client().get("/chat/", HTTP_ORIGIN=SPA)


def test_cors_allowed_origins_are_read_as_browsers_spell_them():
    env = Env({"CORS_ALLOWED_ORIGINS": "https://spa.example.com:443, http://localhost:5173/, https://Api.Example.org"})

    assert env.browser_origins("CORS_ALLOWED_ORIGINS", []) == [
        "https://spa.example.com",
        "http://localhost:5173",
        "https://api.example.org",
    ]
