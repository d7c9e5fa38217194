"""The bundled JS client in headless Chromium against a real daphne process."""

import pytest
from django.db import transaction

from realtime.api import publish

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("kind", ["daphne", "uvicorn"])
def test_client_reconnects_after_restart_and_sees_every_event_once_in_order(servers, browser, kind):
    server = servers(name="js", kind=kind)
    page = browser.new_page()
    page.goto(f"{server.url}/e2e/client.html?room=restart{kind}")
    page.wait_for_function("window.joined === true", timeout=10000)
    assert page.text_content("#state") == "open"

    for text in ("one", "two", "three"):
        page.evaluate("(text) => window.echo(text)", text)
    page.wait_for_function("window.received.length === 3", timeout=10000)

    port = server.port
    server.kill()
    page.wait_for_function("document.getElementById('state').textContent === 'reconnecting'", timeout=10000)
    # Published while the page is disconnected: stored in the stream, missed live.
    for i in range(5):
        with transaction.atomic():
            publish(f"test:restart{kind}", "echoed", {"text": f"outage {i}"}, replayable=True)

    servers(port=port, name="js-restarted", kind=kind)
    page.wait_for_function("window.received.length === 8", timeout=20000)
    assert page.text_content("#state") == "open"
    page.evaluate("window.echo('after')")
    page.wait_for_function("window.received.length === 9", timeout=10000)
    assert page.evaluate("window.received") == list(range(1, 10))
    states = page.evaluate("window.states")
    assert states[:2] == ["connecting", "open"] and "reconnecting" in states
    items = page.locator("#events li").all_text_contents()
    assert items[3] == "4: outage 0" and items[-1] == "9: after"
    page.close()
