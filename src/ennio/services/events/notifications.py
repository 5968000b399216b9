"""Which notifiers hear about an event, and delivering to them without letting one failure spread.

Routing (``notification_routing`` in ``ennio.yaml``), for one event:

* ``priorities``: the notifier names listed for the event's priority. Priorities not listed keep
  the defaults: ``urgent`` and ``critical`` go to every notifier (``*``); write ``urgent: []`` to
  silence them.
* ``events``: names listed for the event's exact type (``ci.failing``), its prefix (``ci.*``) or
  ``*``; these add to the priority's names.
* a reaction's own ``notifiers`` add to both.
* a deliberate notification (a reaction whose action is ``notify``, an escalation) that no rule
  routes goes to ``defaults.notifiers``, or to every notifier when that is empty, so a human who
  must be told is never silently skipped.

Each notifier is addressed by its own name. Delivery runs every target concurrently; a notifier
that fails (down, HTTP 500 after its retries, a missing program, a bug) is logged and reported in
the :class:`Delivery`, never raised, so the others and the caller carry on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ennio.core.config import EnnioConfig, NotificationRouting
from ennio.core.errors import EnnioError, PluginError
from ennio.core.events import Event, EventType, Priority
from ennio.core.plugins import Notification, NotificationAction, Notifier, PluginContext, SessionSummary, Slot
from ennio.services.registry import PluginRegistry, default_registry

log = logging.getLogger("ennio.notifications")

ALL = "*"
DEFAULT_PRIORITY_ROUTES: dict[Priority, list[str]] = {Priority.URGENT: [ALL], Priority.CRITICAL: [ALL]}

#: Looks up the summary of the session an event is about (status, branch, PR, activity, cost).
SummaryProvider = Callable[[Event], Awaitable[SessionSummary | None]]

_LABELS: dict[EventType, str] = {
    EventType.SESSION_SPAWNED: "session started",
    EventType.SESSION_WORKING: "agent working",
    EventType.SESSION_EXITED: "agent exited",
    EventType.SESSION_KILLED: "session killed",
    EventType.SESSION_RESTORED: "session restored",
    EventType.SESSION_CLEANED: "session cleaned up",
    EventType.STATUS_CHANGED: "status changed",
    EventType.ACTIVITY_CHANGED: "activity changed",
    EventType.PR_CREATED: "PR opened",
    EventType.PR_UPDATED: "PR updated",
    EventType.PR_MERGED: "PR merged",
    EventType.PR_CLOSED: "PR closed",
    EventType.CI_PASSING: "CI passing",
    EventType.CI_FAILING: "CI failing",
    EventType.CI_FIX_SENT: "CI failure sent to the agent",
    EventType.CI_FIX_FAILED: "CI still failing after a fix",
    EventType.REVIEW_PENDING: "review pending",
    EventType.REVIEW_APPROVED: "PR approved",
    EventType.REVIEW_CHANGES_REQUESTED: "changes requested",
    EventType.REVIEW_COMMENTS_SENT: "review comments sent to the agent",
    EventType.MERGE_READY: "ready to merge",
    EventType.MERGE_CONFLICTS: "merge conflicts",
    EventType.MERGE_COMPLETED: "merged",
    EventType.REACTION_TRIGGERED: "reaction triggered",
    EventType.REACTION_ESCALATED: "needs a human",
    EventType.ALL_COMPLETE: "all sessions complete",
    EventType.BUDGET_WARNING: "budget warning",
    EventType.BUDGET_EXCEEDED: "budget exceeded",
    EventType.NODE_CONNECTED: "node connected",
    EventType.NODE_DISCONNECTED: "node disconnected",
    EventType.NODE_LAUNCHED: "node launched",
    EventType.NODE_HEALTH: "node health",
}


def event_label(event_type: EventType) -> str:
    return _LABELS.get(event_type, str(event_type).replace(".", " ").replace("_", " "))


def build_notification(
    event: Event,
    summary: SessionSummary | None = None,
    *,
    title: str | None = None,
    body: str | None = None,
    priority: Priority | None = None,
) -> Notification:
    """``app-3: CI failing`` / the event's message, with a PR button when the event knows the PR."""
    subject = event.session_id or event.project_id or "Ennio"
    label = event_label(event.type)
    actions: list[NotificationAction] = []
    pr_url = event.data.get("pr_url")
    if isinstance(pr_url, str) and pr_url and not (summary and summary.pr_url == pr_url):
        actions.append(NotificationAction("Open PR", pr_url))
    return Notification(
        title=title or f"{subject}: {label}",
        body=body if body is not None else (event.message or label[:1].upper() + label[1:] + "."),
        priority=priority or event.priority,
        event=event,
        summary=summary,
        actions=actions,
    )


@dataclass(slots=True)
class Delivery:
    """What happened to one notification: who was meant to get it, who did, who failed and why."""

    event_id: str
    targets: list[str] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


class NotificationRouter:
    def __init__(
        self,
        notifiers: Mapping[str, Notifier],
        routing: NotificationRouting | None = None,
        *,
        default_notifiers: Sequence[str] = (),
        summaries: SummaryProvider | None = None,
        timeout: float | None = 600.0,
    ) -> None:
        self.notifiers = dict(notifiers)
        self.routing = routing or NotificationRouting()
        self.default_notifiers = list(default_notifiers)
        self.summaries = summaries
        #: longest one notifier may take (its own retries included) before it counts as failed
        self.timeout = timeout
        self.priority_routes: dict[Priority, list[str]] = {**DEFAULT_PRIORITY_ROUTES, **self.routing.priorities}
        self._pending: set[asyncio.Task[Delivery]] = set()

    @classmethod
    def from_config(
        cls,
        config: EnnioConfig,
        ctx: PluginContext,
        *,
        registry: PluginRegistry | None = None,
        summaries: SummaryProvider | None = None,
    ) -> NotificationRouter:
        """Instantiate every configured notifier (by its ``type``, from the registry) under its own name."""
        registry = registry or default_registry()
        notifiers: dict[str, Notifier] = {}
        for name, settings in config.notifiers.items():
            plugin = registry.get(Slot.NOTIFIER, settings.type)
            try:
                notifiers[name] = plugin(name, settings, ctx)
            except EnnioError:
                raise
            except Exception as exc:  # a third-party notifier's bug is reported, not a traceback
                raise PluginError(
                    f"notifier {name!r} ({settings.type}) could not start: {type(exc).__name__}: {exc}",
                    hint=f"check notifiers.{name} in the configuration",
                ) from exc
        return cls(
            notifiers,
            config.notification_routing,
            default_notifiers=config.defaults.notifiers,
            summaries=summaries,
        )

    # ------------------------------------------------------------------ routing

    def _expand(self, names: Iterable[str]) -> list[str]:
        out: list[str] = []
        for name in names:
            out.extend(self.notifiers if name == ALL else [name])
        return out

    def route(
        self,
        event: Event,
        *,
        priority: Priority | None = None,
        extra: Sequence[str] | None = None,
        fallback: bool = False,
    ) -> list[str]:
        """Names of the notifiers that get ``event``, in configuration order, each once."""
        wanted = list(self._expand(self.priority_routes.get(priority or event.priority, [])))
        event_type = str(event.type)
        for key, names in self.routing.events.items():
            if key in (ALL, event_type) or (key.endswith(".*") and event_type.startswith(key[:-1])):
                wanted += self._expand(names)
        wanted += self._expand(extra or [])
        if not wanted and fallback:
            wanted = self._expand(self.default_notifiers or [ALL])
        order = {name: index for index, name in enumerate(self.notifiers)}
        unique = dict.fromkeys(wanted)
        return sorted(unique, key=lambda n: order.get(n, len(order)))

    # ------------------------------------------------------------------ delivery

    async def _summary_for(self, event: Event, given: SessionSummary | None) -> SessionSummary | None:
        if not self.routing.include_summary:
            return None
        if given is not None or self.summaries is None or event.session_id is None:
            return given
        try:
            return await self.summaries(event)
        except Exception as exc:  # a summary is a nicety; the notification still goes out
            log.warning("no session summary for %s: %s: %s", event.session_id, type(exc).__name__, exc)
            return None

    async def notify(
        self,
        event: Event,
        *,
        notifiers: Sequence[str] | None = None,
        fallback: bool = False,
        summary: SessionSummary | None = None,
        title: str | None = None,
        body: str | None = None,
        priority: Priority | None = None,
    ) -> Delivery:
        """Route ``event`` and deliver it; never raises for a notifier's failure.

        ``notifiers`` are a reaction's own names (added to the routing); ``fallback`` marks a
        deliberate notification that must reach someone (see the module doc).
        """
        targets = self.route(event, priority=priority, extra=notifiers, fallback=fallback)
        delivery = Delivery(event_id=event.id, targets=targets)
        if not targets:
            return delivery
        notification = build_notification(
            event, await self._summary_for(event, summary), title=title, body=body, priority=priority
        )
        results = await asyncio.gather(*(self._deliver(name, notification) for name in targets))
        for name, error in zip(targets, results, strict=True):
            if error is None:
                delivery.delivered.append(name)
            else:
                delivery.failed[name] = error
        return delivery

    async def on_event(self, event: Event) -> Delivery:
        """For an event-bus subscription: notify whoever the routing names (no fallback)."""
        return await self.notify(event)

    def submit(self, event: Event, **kwargs: Any) -> asyncio.Task[Delivery]:
        """Deliver in the background (the caller does not wait for slow receivers and their retries)."""
        task = asyncio.get_running_loop().create_task(self.notify(event, **kwargs), name=f"notify-{event.id}")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    async def drain(self) -> None:
        """Wait for every background delivery (on shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def _deliver(self, name: str, notification: Notification) -> str | None:
        """``None`` when delivered, else the reason it was not (already logged)."""
        notifier = self.notifiers.get(name)
        event_type = notification.event.type if notification.event is not None else "notification"
        if notifier is None:
            reason = f"no notifier named {name!r}"
            log.warning("%s: %s is not delivered", reason, event_type)
            return reason
        try:
            if self.timeout is None:
                await notifier.notify(notification)
            else:
                await asyncio.wait_for(notifier.notify(notification), self.timeout)
        except EnnioError as exc:
            reason = exc.message
            log.warning("notifier %r failed to deliver %s: %s", name, event_type, reason)
            return reason
        except TimeoutError:
            reason = f"notifier {name!r} took longer than {self.timeout:g}s"
            log.warning("%s delivering %s", reason, event_type)
            return reason
        except Exception as exc:  # a bug in one notifier must not reach the others or the caller
            reason = f"notifier {name!r} crashed: {type(exc).__name__}"
            log.error("%s delivering %s", reason, event_type, exc_info=True)
            return reason
        log.debug("notifier %r delivered %s", name, event_type)
        return None
