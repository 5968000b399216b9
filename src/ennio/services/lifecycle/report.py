"""What one reconcile pass did, and the guard that keeps one failing piece of work from ending it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ennio.core.config import ProjectConfig
from ennio.core.errors import AuthError, EnnioError

log = logging.getLogger("ennio.lifecycle")

T = TypeVar("T")


@dataclass(slots=True)
class PassReport:
    """What one pass did (for logs, tests and the benchmark)."""

    sessions: int = 0
    transitions: int = 0
    opened_prs: int = 0
    pushes: int = 0
    #: spawns found cut short (their spawner died) and settled: terminal stopped, session exited
    interrupted_spawns: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    #: project id -> a credential problem (``AuthError``) its tracker or SCM reported this pass
    problems: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


class Guard:
    """Runs a piece of a pass within the session timeout; a failure is logged and reported, never raised.

    A credential problem (``AuthError``) is also noted against the project and handed to
    ``on_auth_error``, so its sessions and a person hear of it."""

    def __init__(self, timeout: float, on_auth_error: Callable[[ProjectConfig, AuthError], None]) -> None:
        self.timeout = timeout
        self.on_auth_error = on_auth_error

    async def __call__(
        self, what: str, work: Awaitable[T], report: PassReport, project: ProjectConfig | None = None
    ) -> T | None:
        try:
            async with asyncio.timeout(self.timeout):
                return await work
        except TimeoutError:
            report.errors[what] = f"took longer than {self.timeout:g}s"
            log.warning("%s: reconcile took longer than %gs; skipped this pass", what, self.timeout)
        except AuthError as exc:
            report.errors[what] = exc.message
            if project is not None:
                report.problems.setdefault(project.pid, exc.message)
                self.on_auth_error(project, exc)
            log.warning("%s: %s", what, exc.message)
        except EnnioError as exc:
            report.errors[what] = exc.message
            log.warning("%s: %s", what, exc.message)
        except Exception as exc:
            report.errors[what] = f"{type(exc).__name__}: {exc}"
            log.error("%s: reconcile failed: %s: %s", what, type(exc).__name__, exc, exc_info=True)
        return None
