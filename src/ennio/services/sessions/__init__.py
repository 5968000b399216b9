"""Sessions: what a person does to one — spawn (``spawn``), send, kill, restore, list, describe
(``manager``: ``SessionManager``) — and what keeps sessions whole: re-adoption on start (``adoption``),
cleanup of finished ones (``cleanup``), the spawn queue (``spawn_queue``), the shared plugin instances
(``plugins``), the environment every session service shares (``env``), the two acts the lifecycle needs
(``ops``) and the light read-only access of the CLI (``readers``).

Uses ``core``, ``db``, ``services.config``, ``services.events`` and ``services.forge``; plugins only through
the registry.
"""
