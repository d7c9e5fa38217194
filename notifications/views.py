"""The /notifications/ page: the full list (kind filter) and the preferences form; live
updates come from static/notifications/index.js through the page's inbox."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.auth import signed_in_user
from config.errors import Invalid
from notifications import selectors, services
from notifications.models import MUTABLE_KINDS, Kind
from notifications.payloads import notification_data

PAGE_SIZE = 50


@login_required
def notification_index(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    kind = request.GET.get("kind", "")
    if kind not in Kind.values:
        kind = ""
    rows = selectors.notification_list(user=user, kind=kind or None)[:PAGE_SIZE]
    context = {
        "notifications": [notification_data(row) for row in rows],
        "kind": kind,
        "kinds": Kind.choices,
        "mutable_kinds": [(value, label) for value, label in Kind.choices if value in MUTABLE_KINDS],
        "muted_kinds": selectors.muted_kinds(user=user),
        "saved": request.GET.get("saved") == "1",
    }
    return render(request, "notifications/index.html", context)


@login_required
@require_POST
def preferences_save(request: HttpRequest) -> HttpResponse:
    try:
        services.preference_update(user=signed_in_user(request), muted_kinds=request.POST.getlist("muted_kinds"))
    except Invalid:
        return HttpResponse("Unknown kind.", status=400)
    return redirect(reverse("notifications:index") + "?saved=1")
