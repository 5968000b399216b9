"""Re-adopting sessions when the daemon starts: nothing is spawned, nothing is spawned twice.

Every session that should have a running agent is checked against its runtime (one ``list_alive``
call per runtime in use, not one per session):
- its agent still runs → adopted as it is;
- its agent is gone → ``exited`` (``session.exited``), ready for ``ennio session restore``;
- it is ``spawning`` but the process spawning it is gone (a daemon or CLI killed mid-spawn) → its
  half-started agent is stopped and the session marked ``exited`` with the reason, for the person to
  restore or kill (the spawn recorded its workspace and terminal before making them, so
  ``session kill --workspace`` removes what it made). A spawn still running in another process (a CLI
  next to the daemon) is left alone.

The daemon's loop settles interrupted spawns the same way on every pass
(:func:`settle_interrupted`), so a CLI killed mid-spawn while the daemon runs does not hold a
``max_sessions`` slot until the next restart.

A runtime that cannot be asked (tmux failing) leaves its sessions untouched: an error is no proof that
an agent died. Live terminals with this install's prefix that no session owns are reported, not killed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ennio.core.errors import Conflict, EnnioError, IllegalTransition
from ennio.core.session import ACTIVE_STATUSES, Session, SessionStatus
from ennio.services.sessions.env import META_SPAWNER, SessionEnv, mark_exited, spawner_running, terminal_handle

log = logging.getLogger("ennio.adoption")

INTERRUPTED = "its spawn was interrupted (the process spawning it stopped)"


@dataclass(slots=True)
class AdoptionReport:
    adopted: list[str] = field(default_factory=list)
    exited: list[str] = field(default_factory=list)
    #: spawns cut short by their process stopping (now exited)
    interrupted: list[str] = field(default_factory=list)
    #: spawns still running in another process, left alone
    in_progress: list[str] = field(default_factory=list)
    #: live terminals with this install's prefix that no session owns
    orphans: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "adopted": self.adopted,
            "exited": self.exited,
            "interrupted": self.interrupted,
            "in_progress": self.in_progress,
            "orphans": self.orphans,
            "errors": self.errors,
        }


async def readopt(env: SessionEnv) -> AdoptionReport:
    report = AdoptionReport()
    sessions = await env.db.sessions.list(statuses=ACTIVE_STATUSES - {SessionStatus.EXITED})
    prefix = env.runtime_prefix()
    live: dict[str, set[str]] = {}
    for name in sorted({s.runtime for s in sessions} | {env.config.defaults.runtime}):
        try:
            live[name] = set(await env.plugins.runtime(name).list_alive(prefix))
        except EnnioError as exc:
            report.errors.append(f"runtime {name}: {exc.message}")
    owned: set[str] = set()
    for session in sessions:
        names = live.get(session.runtime)
        name = terminal_handle(env, session).id
        owned.add(name)
        if names is None:
            continue  # its runtime could not be asked
        try:
            if session.status is SessionStatus.SPAWNING:
                await _spawning(env, session, name in names, report)
            elif name in names:
                report.adopted.append(session.id)
            else:
                await mark_exited(env, session, "its agent was gone when the daemon started")
                report.exited.append(session.id)
        except (Conflict, IllegalTransition):
            log.info("session %s changed while being re-adopted; leaving it", session.id)
        except EnnioError as exc:
            report.errors.append(f"{session.id}: {exc.message}")
    for names in live.values():
        report.orphans += sorted(n for n in names if n not in owned)
    if report.orphans:
        log.warning("terminals no session owns: %s", ", ".join(report.orphans))
    return report


async def _spawning(env: SessionEnv, session: Session, running: bool, report: AdoptionReport) -> None:
    if spawner_running(session, env.clock.now()):
        report.in_progress.append(session.id)
        return
    await _settle(env, session, running)
    report.interrupted.append(session.id)


async def _settle(env: SessionEnv, session: Session, running: bool) -> None:
    """Stop what an interrupted spawn started and mark the session exited (its workspace is kept)."""
    if running:
        await env.plugins.runtime(session.runtime).destroy(terminal_handle(env, session))
    await mark_exited(env, session, INTERRUPTED)


async def settle_interrupted(env: SessionEnv, sessions: Sequence[Session]) -> list[str]:
    """The ids of the ``spawning`` sessions among ``sessions`` whose spawner is gone, now settled.

    One ``list_alive`` per runtime involved, and only when there is something to settle.
    """
    now = env.clock.now()
    cut_short = [
        s
        for s in sessions
        if s.status is SessionStatus.SPAWNING and META_SPAWNER in s.metadata and not spawner_running(s, now)
    ]
    if not cut_short:
        return []
    prefix = env.runtime_prefix()
    live = {name: set(await env.plugins.runtime(name).list_alive(prefix)) for name in {s.runtime for s in cut_short}}
    settled: list[str] = []
    for session in cut_short:
        try:
            await _settle(env, session, terminal_handle(env, session).id in live[session.runtime])
        except (Conflict, IllegalTransition):
            continue  # it moved on meanwhile
        log.warning("session %s: %s", session.id, INTERRUPTED)
        settled.append(session.id)
    return settled
