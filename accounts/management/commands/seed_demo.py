"""Creates the demo users ann, ben and cat (all friends), the superuser admin and each app's
demo data (`<app>/demo.py`). Safe to run again."""

from importlib import import_module
from itertools import permutations
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import Follow, User
from config.errors import ServiceError

DEMO_USERS = [("ann", "Ann"), ("ben", "Ben"), ("cat", "Cat")]
ADMIN_USERNAME = "admin"
DEFAULT_PASSWORD = "demo-pass-123"  # noqa: S105 - documented demo credentials, for local use only


class Command(BaseCommand):
    help = "Creates demo users ann, ben, cat (mutual friends) and the superuser admin; keeps existing ones as they are."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="Password for new demo users and admin.")

    def handle(self, *args: Any, password: str, **options: Any) -> None:
        users = [self._demo_user(username, display_name, password) for username, display_name in DEMO_USERS]
        for follower, followee in permutations(users, 2):
            if not Follow.objects.filter(follower=follower, followee=followee).exists():
                # Through the service, so user_followed / friendship_formed reach other apps.
                services.user_follow(follower=follower, followee_id=followee.pk)
        self._admin(password)
        # Feature apps add their own demo data in `<app>/demo.py` (e.g. chat's #general).
        for app_config in apps.get_app_configs():
            try:
                module = import_module(f"{app_config.name}.demo")
            except ModuleNotFoundError as error:
                if error.name == f"{app_config.name}.demo":
                    continue
                raise
            module.seed_demo(users=users, stdout=self.stdout)

    def _demo_user(self, username: str, display_name: str, password: str) -> User:
        user = User.objects.filter(username=username).first()
        if user is not None:
            self.stdout.write(f"{username}: exists, password unchanged")
            return user
        try:
            user = services.user_register(username=username, password=password, display_name=display_name)
        except ServiceError as error:
            raise CommandError(f"Cannot create {username}: {error.as_error()}") from None
        self.stdout.write(f"{username}: created, log in with {username} / {password}")
        return user

    def _admin(self, password: str) -> None:
        if User.objects.filter(username=ADMIN_USERNAME).exists():
            self.stdout.write(f"{ADMIN_USERNAME}: exists, password unchanged")
            return
        User.objects.create_superuser(username=ADMIN_USERNAME, password=password, display_name="Admin")
        self.stdout.write(f"{ADMIN_USERNAME}: created superuser, log in with {ADMIN_USERNAME} / {password}")
