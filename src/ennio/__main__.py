"""``python -m ennio``: the same as the ``ennio`` command (used to start the detached daemon)."""

from ennio.cli.main import run

run()
