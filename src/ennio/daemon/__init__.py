"""The daemon (``ennio start``): the composition root of a long-running Ennio — the pid lock (``pidlock``),
and the server (``server``) that opens the service stack, re-adopts sessions, runs the orchestrator and
serves the web app until told to stop.

A front end: it holds no business logic and imports ``services``, ``web`` and below; only the CLI (the
console entry) imports it.
"""
