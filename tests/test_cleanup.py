"""`manage.py cleanup` runs every scheduled clean-up against real rows, and only removes what is due."""

import io
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from chat import services as chat_services
from uploads import services as upload_services
from uploads.models import SessionStatus, UploadSession

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def session(expired: bool) -> str:
    store = SessionStore()
    store["user"] = "x"
    store.set_expiry(-60 if expired else 3600)
    store.create()
    return store.session_key


def test_cleanup_runs_every_step_and_keeps_what_is_not_due(ann, settings):
    settings.REALTIME_RETENTION_COUNT = 1
    channel = chat_services.channel_create(user=ann, name="general")
    for n in range(3):
        chat_services.message_create(user=ann, channel_id=channel.pk, body=f"m{n}", client_id=f"c{n}")
    expired_token, live_token = RefreshToken.for_user(ann), RefreshToken.for_user(ann)
    OutstandingToken.objects.filter(jti=expired_token["jti"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    old_session, live_session = session(expired=True), session(expired=False)
    upload = upload_services.session_create(
        user=ann, category="personal", files=[{"name": "a.pdf", "size": 10, "type": "application/pdf"}]
    )
    UploadSession.objects.filter(pk=upload.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    out = io.StringIO()

    call_command("cleanup", stdout=out)

    output = out.getvalue()
    assert "Deleted 2 stream events." in output  # 3 messages, 1 kept
    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == [live_token["jti"]]
    assert list(Session.objects.values_list("session_key", flat=True)) == [live_session]
    assert old_session != live_session
    assert UploadSession.objects.get(pk=upload.pk).status == SessionStatus.FAILED
    assert "expired 1 upload sessions" in output
    assert output.strip().endswith("Clean-up done.")


def test_cleanup_can_skip_a_step(ann):
    old_session = session(expired=True)
    out = io.StringIO()

    call_command("cleanup", "--skip", "clearsessions", stdout=out)

    assert "clearsessions: skipped." in out.getvalue()
    assert Session.objects.filter(session_key=old_session).exists()


def test_cleanup_is_a_manage_py_command():
    result = subprocess.run(
        [sys.executable, "manage.py", "help", "cleanup"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    for step in ("realtime_trim", "flushexpiredtokens", "clearsessions", "uploads_cleanup"):
        assert step in result.stdout
