"""/api/docs/ in headless Chromium with no way out to the internet: Swagger UI still renders."""

import pytest
from playwright.sync_api import Route, expect

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def test_docs_render_offline_from_local_assets(servers, browser):
    server = servers()
    requested: list[str] = []
    context = browser.new_context()

    def offline(route: Route) -> None:
        requested.append(route.request.url)
        if route.request.url.startswith(server.url + "/"):
            route.continue_()
        else:
            route.abort("internetdisconnected")

    context.route("**/*", offline)
    page = context.new_page()
    page.goto(f"{server.url}/api/docs/")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Realtime backend API", timeout=10_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/auth/token/").first).to_be_visible()
    remote = [url for url in requested if not url.startswith(server.url + "/")]
    assert remote == [], remote
    assert any(url.endswith("/swagger-ui-bundle.js") for url in requested)
    context.close()
