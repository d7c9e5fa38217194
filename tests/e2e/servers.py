"""Kept while tests move to realtime.testing (its home now)."""

from realtime.testing import ServerProcess, database_url, free_port

__all__ = ["ServerProcess", "database_url", "free_port"]
