"""SQLite storage: connection, migrations and the one module that holds SQL (store.py)."""

from bot.storage.db import Database, SchemaTooNewError, StorageError, open_database

__all__ = ["Database", "SchemaTooNewError", "StorageError", "open_database"]
