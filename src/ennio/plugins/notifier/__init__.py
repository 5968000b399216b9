"""Notifier plugins: telling a human (desktop, Slack, signed webhook, any apprise URL).

Each is constructed as ``cls(name, settings, ctx)`` and delivers with ``await notify(notification)``,
raising :class:`ennio.core.errors.NotifierError` when delivery finally fails. Which notifiers get
which event is decided by ``ennio.services.events.notifications``, not here.
"""
