"""The uploads page: a shell with its configuration; bytes go over tus, progress over /ws/ or polling."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse

from accounts.auth import signed_in_user
from uploads import payloads, selectors

# Bytes per PATCH from the page: daphne buffers whole bodies, so a dropped connection
# loses at most one chunk there; uvicorn keeps every byte that arrived anyway.
PAGE_CHUNK_BYTES = 2 * 1024 * 1024


@login_required
def uploads_index(request: HttpRequest) -> HttpResponse:
    """Pick files, watch them upload; an unfinished session of the user's can be resumed."""
    user = signed_in_user(request)
    unfinished = [
        payloads.session_data(session, list(session.files.all()))
        for session in selectors.session_list_unfinished(user=user)
    ]
    config = {
        "csrf_token": get_token(request),
        "categories": settings.UPLOAD_CATEGORIES,
        "allowed_types": settings.UPLOAD_ALLOWED_TYPES,
        "max_file_bytes": settings.UPLOAD_MAX_FILE_BYTES,
        "max_files": settings.UPLOAD_MAX_FILES,
        "chunk_bytes": PAGE_CHUNK_BYTES,
        "resume": unfinished[0] if unfinished else None,
        "urls": {
            "sessions": reverse("api-uploads-sessions"),
            "session_base": reverse("api-uploads-sessions"),
        },
    }
    return render(request, "uploads/index.html", {"uploads_config": config, "categories": settings.UPLOAD_CATEGORIES})
