"""Admin glue shared by every app: actions that go through the services."""

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from config.errors import ServiceError


def run_action(
    modeladmin: admin.ModelAdmin, request: HttpRequest, items: Iterable[Any], action: Callable[[Any], Any], verb: str
) -> None:
    """Runs a service on each selected row: each refusal is shown with its row, then "<verb> N." for the rest."""
    done = 0
    for item in items:
        try:
            action(item)
            done += 1
        except ServiceError as error:
            modeladmin.message_user(request, f"{item}: {error.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{verb} {done}.", messages.SUCCESS)
