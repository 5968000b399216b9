"""Events: the in-process broadcast (``event_bus``), the database event log with its NATS relay
(``event_log``: ``EventService``), and telling people (``notifications``: routing to notifiers).

Uses ``core``, ``db``, ``nats`` and the plugin registry (notifiers); sessions and lifecycle publish through it.
"""
