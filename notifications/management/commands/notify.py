"""`manage.py notify`: notifications for operators, through the same bulk service as the trigger API."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import Invalid
from notifications.models import Kind
from notifications.services import notifications_bulk_create


class Command(BaseCommand):
    help = "Notifies some users (--users 1,2,3) or every active user (--all), live on their open connections."

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--users", help="User ids separated by commas.")
        who.add_argument("--all", action="store_true", help="Every active user.")
        parser.add_argument("--kind", default=Kind.SYSTEM, choices=Kind.values)
        parser.add_argument("--title", required=True)
        parser.add_argument("--body", default="")
        parser.add_argument("--data", default="{}", help="A JSON object attached to each notification.")
        parser.add_argument("--group-key", default="", help="Replaces each user's unread one with this key.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user_ids = None if options["all"] else [int(part) for part in options["users"].split(",") if part.strip()]
            data = json.loads(options["data"])
        except ValueError as error:
            raise CommandError(f"Bad --users or --data: {error}") from None
        try:
            count = notifications_bulk_create(
                user_ids=user_ids,
                kind=options["kind"],
                title=options["title"],
                body=options["body"],
                data=data,
                group_key=options["group_key"],
            )
        except Invalid as error:
            raise CommandError(f"Invalid: {error.fields or error.message}") from None
        self.stdout.write(f"Stored {count} notifications.")
