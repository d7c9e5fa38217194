"""The uploads page in headless Chromium against a real server process: real files through
the vendored tus-js-client, bars reaching 100 %, cancel, reload and resume, and the same
with the WebSocket blocked (progress by polling)."""

import re
import time
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, Route, WebSocketRoute, expect

from accounts.models import User
from uploads.models import FileStatus, SessionStatus, UploadFile, UploadSession
from uploads.tests.conftest import jpeg_bytes, module_server, pdf_bytes, png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000
MiB = 1024 * 1024


@pytest.fixture
def ann() -> User:
    return User.objects.create_user(username="ann", password="unused-pw-1", display_name="Ann")


server = module_server("daphne")


@pytest.fixture(autouse=True)
def _media(server_media):
    return server_media


def signed_in(browser: Browser, user: User) -> BrowserContext:
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "domain": "127.0.0.1", "path": "/"}])
    return context


def open_page(context: BrowserContext, server: Any) -> Page:
    page = context.new_page()
    page.goto(f"{server.url}/uploads/")
    page.wait_for_selector('.uploads[data-ready="true"]', timeout=WAIT_MS)
    return page


def as_file(name: str, content: bytes, mime: str) -> dict[str, Any]:
    return {"name": name, "mimeType": mime, "buffer": content}


def photos_and_a_pdf() -> list[dict[str, Any]]:
    return [
        as_file("beach.jpg", jpeg_bytes(900, 600), "image/jpeg"),
        as_file("hill.jpg", jpeg_bytes(600, 900), "image/jpeg"),
        as_file("lake.png", png_bytes(400, 300), "image/png"),
        as_file("ticket.pdf", pdf_bytes(300_000), "application/pdf"),
    ]


def file_row(page: Page, name: str):
    return page.locator(".upload-file", has=page.locator(".upload-file-name", has_text=name))


def test_photos_and_a_pdf_upload_with_live_bars_and_a_forbidden_file_fails(server, browser, ann):
    page = open_page(signed_in(browser, ann), server)
    expect(page.locator("#connection-state")).to_have_text(re.compile("connected"), timeout=WAIT_MS)
    disguised = as_file("invoice.jpg", b"MZ\x90\x00" + b"\x00" * 5000, "image/jpeg")  # a program named .jpg
    page.select_option("#upload-category", "scenic")
    page.set_input_files("#upload-input", [*photos_and_a_pdf(), disguised, as_file("notes.txt", b"hi", "text/plain")])
    page.click("#upload-start")

    expect(page.locator(".uploads")).to_have_attribute("data-status", "partial", timeout=WAIT_MS)
    expect(page.locator("#upload-transport")).to_have_text("live")
    expect(page.locator("#upload-total-text")).to_have_text("100 %")
    for name in ("beach.jpg", "hill.jpg", "lake.png", "ticket.pdf"):
        expect(file_row(page, name)).to_have_attribute("data-status", "completed")
        expect(file_row(page, name).locator(".upload-file-status")).to_have_text("100 % · done")
    expect(file_row(page, "invoice.jpg")).to_have_attribute("data-status", "failed")
    expect(file_row(page, "invoice.jpg").locator(".upload-file-error")).to_contain_text("not the declared image/jpeg")
    expect(file_row(page, "notes.txt").locator(".upload-file-error")).to_have_text(
        "The type text/plain is not allowed."
    )
    expect(page.locator("#upload-cancel")).to_be_hidden()

    session = UploadSession.objects.get(owner=ann)
    assert (session.status, session.category) == (SessionStatus.PARTIAL, "scenic")
    stored = {file.original_name: file for file in session.files.all()}
    assert set(stored) == {"beach.jpg", "hill.jpg", "lake.png", "ticket.pdf", "invoice.jpg"}
    assert (stored["beach.jpg"].width, stored["beach.jpg"].height) == (900, 600)
    assert stored["invoice.jpg"].status == FileStatus.FAILED


def drop_patches_after(page: Page, allowed: int) -> None:
    """Lets the first `allowed` PATCHes through and fails the others (a network that drops);
    tus-js-client retries them, and they fail again while the route is in place."""
    passed = [0]

    def handle(route: Route) -> None:
        if route.request.method != "PATCH":
            route.continue_()
        elif passed[0] < allowed:
            passed[0] += 1
            route.continue_()
        else:
            route.abort("connectionreset")

    page.route(re.compile(r"/api/uploads/tus/\d+$"), handle)


def stored_offset(user: User, expected: int) -> int:
    """The upload's stored offset once it is `expected` (the server records it as the PATCH ends)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    file = UploadFile.objects.get(session__owner=user)
    while file.received != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        file.refresh_from_db()
    return file.received


def test_cancel_stops_the_upload_and_deletes_its_partial_data(server, browser, ann, server_media):
    page = open_page(signed_in(browser, ann), server)
    drop_patches_after(page, allowed=1)
    page.set_input_files(
        "#upload-input", [as_file("video.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x01" * (5 * MiB), "video/mp4")]
    )
    page.click("#upload-start")
    row = file_row(page, "video.mp4")
    expect(row.locator(".upload-file-status")).to_have_text(re.compile(r"^[1-9]\d? % · uploading"), timeout=WAIT_MS)
    page.click("#upload-cancel")
    expect(page.locator(".uploads")).to_have_attribute("data-status", "cancelled", timeout=WAIT_MS)
    expect(row).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#upload-message")).to_have_text("Cancelled.")
    file = UploadFile.objects.get(session__owner=ann)
    assert file.status == FileStatus.CANCELLED
    assert not (server_media / "partial" / f"{file.pk}.part").exists()


def test_a_reload_mid_upload_resumes_from_the_stored_offset(server, browser, ann):
    context = signed_in(browser, ann)
    page = open_page(context, server)
    big = as_file("panorama.jpg", jpeg_bytes(2400, 1600), "image/jpeg")
    assert len(big["buffer"]) > 3 * MiB
    drop_patches_after(page, allowed=1)
    page.set_input_files("#upload-input", [big])
    page.click("#upload-start")
    row = file_row(page, "panorama.jpg")
    expect(row.locator(".upload-file-status")).to_have_text(re.compile(r"· uploading"), timeout=WAIT_MS)
    assert stored_offset(ann, 2 * MiB) == 2 * MiB  # the first chunk is stored, the rest never arrives

    page.reload()  # the route stays until the new page has loaded, so the old page's retries fail too
    page.unroute_all()
    offsets: list[str] = []
    page.on("request", lambda request: request.method == "PATCH" and offsets.append(request.headers["upload-offset"]))
    page.wait_for_selector('.uploads[data-ready="true"]', timeout=WAIT_MS)
    expect(page.locator("#upload-resume")).to_contain_text("panorama.jpg")
    expect(row.locator(".upload-file-status")).to_have_text(re.compile(r"^\d+ % · uploading"))
    page.set_input_files("#upload-input", [big])
    page.click("#upload-start")
    expect(page.locator(".uploads")).to_have_attribute("data-status", "completed", timeout=WAIT_MS)
    expect(row).to_have_attribute("data-status", "completed")
    assert offsets[0] == str(2 * MiB)  # resumed where the server stopped, not from 0
    assert UploadSession.objects.count() == 1


def test_with_the_websocket_blocked_progress_comes_by_polling(server, browser, ann):
    context = signed_in(browser, ann)
    blocked: list[str] = []

    def refuse(socket: WebSocketRoute) -> None:
        blocked.append(socket.url)
        socket.close()

    context.route_web_socket(re.compile(r"/ws/"), refuse)
    page = open_page(context, server)
    polls: list[int] = []
    page.on(
        "response",
        lambda response: "/progress/" in response.url and polls.append(response.status),
    )
    page.set_input_files("#upload-input", photos_and_a_pdf())
    page.click("#upload-start")
    expect(page.locator("#upload-transport")).to_have_text("polling", timeout=WAIT_MS)
    expect(page.locator(".uploads")).to_have_attribute("data-status", "completed", timeout=WAIT_MS)
    expect(page.locator("#upload-total-text")).to_have_text("100 %")
    expect(page.locator(".upload-file[data-status='completed']")).to_have_count(4)
    assert blocked and polls and all(status in (200, 304) for status in polls)
