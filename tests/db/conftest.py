"""Every repository test runs twice: on a fresh SQLite file and on a fresh PostgreSQL database."""

from tests.helpers.database import clock, db, db_url, reopen  # noqa: F401  (fixtures)
