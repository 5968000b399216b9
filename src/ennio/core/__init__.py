"""Pure domain: ids, Session and its state machine, Event, config models, plugin Protocols, errors.

Nothing in this package does I/O and nothing here imports another part of ennio.
"""
