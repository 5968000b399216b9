"""Alembic migrations, applied by ``ennio.db.open_database`` (never by the ``alembic`` command)."""
