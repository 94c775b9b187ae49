"""Persistence: the SQLite database, its migrations, and one module of queries per aggregate."""

from server.store.db import Database

__all__ = ["Database"]
