"""``ennio doctor``: is everything Ennio needs installed, configured and reachable?

Each check says what it found and, when it fails, what to do. Checks never raise: a failure is
a result, so one broken thing never hides the others.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit, urlunsplit

from ennio.core.errors import ConfigError, EnnioError

if TYPE_CHECKING:
    from pydantic import SecretStr

    from ennio.core.config import EnnioConfig
    from ennio.core.plugins import RateBudget
    from ennio.services.registry import PluginRegistry

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    #: what to do about a failure or warning
    hint: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


def redact_url(url: str) -> str:
    """``url`` without its password (for printing)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unreadable URL)"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _empty(secret: SecretStr | None) -> bool:
    return secret is None or not secret.get_secret_value().strip()


async def _version(argv: list[str]) -> str:
    from ennio.core.proc import run

    try:
        result = await run(argv, check=False, timeout=15)
    except EnnioError:
        return ""
    return (result.stdout or result.stderr).strip().splitlines()[0] if result.ok else ""


async def check_program(name: str, program: str, install_hint: str, *, required: bool = True) -> CheckResult:
    found = shutil.which(program)
    if found is None:
        return CheckResult(name, "fail" if required else "warn", f"{program} is not installed", install_hint)
    version_flag = "-V" if program == "tmux" else "--version"
    version = await _version([found, version_flag])
    return CheckResult(name, "ok", version or found)


def _agent_checks(config: EnnioConfig, registry: PluginRegistry) -> list[CheckResult]:
    from ennio.core.errors import PluginError
    from ennio.core.plugins import Slot

    # (agent name, program override, folder a relative program is resolved in)
    wanted: dict[tuple[str, str | None], Path | None] = {}
    for project in config.projects:
        command = project.agent_config.command
        wanted.setdefault((config.agent_for(project), command[0] if command else None), project.path)
    if not config.projects:
        wanted[(config.defaults.agent, None)] = None
    results = []
    for (agent, program), folder in sorted(wanted.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        name = f"agent {agent}"
        try:
            cls = registry.get(Slot.AGENT, agent)
        except PluginError as exc:
            results.append(CheckResult(name, "fail", exc.message, exc.hint))
            continue
        executable = program or str(getattr(cls, "executable", "") or "")
        hint = str(getattr(cls, "install_hint", "") or "") or None
        if not executable:
            results.append(CheckResult(name, "ok", "needs no program"))
            continue
        if "/" in executable:
            path = Path(executable).expanduser()
            if not path.is_absolute() and folder is not None:
                path = folder / path
            found = str(path) if path.is_file() and os.access(path, os.X_OK) else None
        else:
            found = shutil.which(executable)
        if found is None:
            results.append(CheckResult(name, "fail", f"{executable} is not installed (or not on PATH)", hint))
        else:
            results.append(CheckResult(name, "ok", found))
    return results


def _token_checks(config: EnnioConfig) -> list[CheckResult]:
    results = []
    for index, project in enumerate(config.projects):
        for role, settings in (("tracker", project.tracker), ("scm", project.scm)):
            if settings is None or settings.provider == "local":
                continue
            where = f"projects[{index}].{role}"
            name = f"{project.pid} {role} {settings.provider} token"
            if settings.provider == "linear":
                missing = _empty(getattr(settings, "api_key", None))
                key, var = "api_key", "LINEAR_API_KEY"
            else:
                app = getattr(settings, "app", None)
                missing = _empty(getattr(settings, "token", None)) and app is None
                key, var = "token", "GITHUB_TOKEN"
            if missing:
                results.append(
                    CheckResult(
                        name,
                        "fail",
                        f"{where}.{key} is empty",
                        f"export {var}=… and set `{key}: ${{{var}}}` under {where}",
                    )
                )
            else:
                results.append(CheckResult(name, "ok", "present"))
    return results


async def _budget_checks(config: EnnioConfig, registry: PluginRegistry, skip: set[str]) -> list[CheckResult]:
    """For each project on a metered forge (GitHub): its remaining API budget, read without spending it, or a
    clear failure for a bad token or a repository that does not exist."""
    from ennio.core.clock import SystemClock
    from ennio.core.plugins import BudgetProbe, PluginContext, Slot
    from ennio.services.config.paths import data_dir

    ctx = PluginContext(data_dir=data_dir(config), clock=SystemClock())
    results = []
    for project in config.projects:
        if project.pid in skip:
            continue  # its missing token is already reported
        for slot, settings in ((Slot.SCM, project.scm), (Slot.TRACKER, project.tracker)):
            if settings is None or settings.provider == "local":
                continue
            name = f"{project.pid} {settings.provider} budget"
            try:
                plugin = registry.get(slot, settings.provider)(project, ctx)
            except EnnioError as exc:
                results.append(CheckResult(name, "fail", exc.message, exc.hint))
                break
            try:
                if not isinstance(plugin, BudgetProbe):
                    continue
                try:
                    budgets = await asyncio.wait_for(plugin.probe_budget(), 30)
                except TimeoutError:
                    results.append(CheckResult(name, "fail", "no answer within 30 s", "check the network and base_url"))
                except EnnioError as exc:
                    results.append(CheckResult(name, "fail", exc.message, exc.hint))
                else:
                    results.append(_budget_result(name, budgets))
                break  # one probe per project: its tracker uses the same forge and token
            finally:
                close = getattr(plugin, "close", None)
                if close is not None:
                    await close()
    return results


def _budget_result(name: str, budgets: list[RateBudget]) -> CheckResult:
    from datetime import UTC, datetime

    if not budgets:
        return CheckResult(name, "ok", "credentials work (the forge reports no budget)")
    now = datetime.now(UTC)
    parts = []
    low = []
    for b in budgets:
        resets = f", resets in {max(0, int((b.reset_at - now).total_seconds() // 60))} min" if b.reset_at else ""
        parts.append(f"{b.resource} {b.remaining:,}/{b.limit:,} left{resets}")
        if b.remaining <= b.reserve:
            low.append(b.resource)
    detail = "; ".join(parts)
    if low:
        return CheckResult(
            name,
            "warn",
            detail,
            f"{' and '.join(low)} at or below rate_limit_reserve: polling pauses until the reset",
        )
    return CheckResult(name, "ok", detail)


async def check_nats(url: str, timeout: float = 3.0) -> CheckResult:
    import nats

    async def quiet(*_: object) -> None:
        return None

    shown = redact_url(url)
    servers = [u.strip() for u in url.split(",") if u.strip()]
    refused = await _tcp_unreachable(servers, timeout)
    if refused is not None:
        return CheckResult(
            "nats",
            "fail",
            f"cannot reach {shown}: {refused}",
            "start nats-server (with -js), or fix or remove nats_url in the configuration",
        )
    try:
        client = await asyncio.wait_for(
            nats.connect(
                servers,
                connect_timeout=timeout,
                allow_reconnect=False,
                max_reconnect_attempts=0,
                error_cb=quiet,
                disconnected_cb=quiet,
                closed_cb=quiet,
            ),
            timeout + 1,
        )
    except Exception as exc:  # nats-py raises many kinds; every one means "not reachable"
        reason = str(exc) or type(exc).__name__
        return CheckResult(
            "nats",
            "fail",
            f"cannot reach {shown}: {reason}",
            "start nats-server (with -js), or fix or remove nats_url in the configuration",
        )
    try:
        server = client.connected_server_version
        version = f"{server.major}.{server.minor}.{server.patch}"
    except (AttributeError, ValueError):
        version = ""
    await client.close()
    return CheckResult("nats", "ok", f"{shown} (nats-server {version})" if version else shown)


async def _tcp_unreachable(servers: list[str], timeout: float) -> str | None:
    """Why none of ``servers`` accepts a TCP connection, or ``None`` if one does.

    nats-py takes its whole connect timeout even when the port is closed; this answers at once.
    """
    reasons = []
    for server in servers:
        parts = urlsplit(server if "://" in server else f"nats://{server}")
        try:
            host, port = parts.hostname or "127.0.0.1", parts.port or 4222
        except ValueError as exc:
            reasons.append(str(exc))
            continue
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, TimeoutError) as exc:
            reasons.append(exc.strerror or type(exc).__name__ if isinstance(exc, OSError) else "timed out")
            continue
        writer.close()
        return None
    return "; ".join(reasons) or "no server in the URL"


async def check_database(config: EnnioConfig) -> CheckResult:
    """Open the database (applying migrations, as the daemon would) and write and delete one row."""
    from ennio.core.redaction import redact
    from ennio.db import open_database
    from ennio.services.config.paths import data_dir

    url = config.database_url.get_secret_value() if config.database_url is not None else None
    root = data_dir(config)
    shown = redact(url) if url else f"SQLite {root / 'ennio.db'}"
    try:
        db = await open_database(url, root)
        try:
            await db.store.put("ennio.doctor", "write-check", {"ok": True})
            await db.store.delete("ennio.doctor", "write-check")
        finally:
            await db.close()
    except EnnioError as exc:
        return CheckResult("database", "fail", f"{shown}: {exc.message}", exc.hint)
    except Exception as exc:  # a driver error the database layer did not translate
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return CheckResult(
            "database", "fail", f"{shown}: {reason}", "check database_url, the server, and your permissions"
        )
    return CheckResult("database", "ok", f"{shown} (writable)")


async def run_checks(config_path: Path | None, registry: PluginRegistry) -> list[CheckResult]:
    """Every check, in the order a person would fix things."""
    from ennio.core.config import EnnioConfig
    from ennio.services.config.loader import find_config, load_config

    results: list[CheckResult] = []
    path = config_path or find_config()
    try:
        loaded = load_config(path)
        config = loaded.config
        if path is None:
            results.append(
                CheckResult(
                    "config", "warn", "no ennio.yaml found; using defaults", "run `ennio init` in your repository"
                )
            )
        else:
            results.append(CheckResult("config", "ok", f"{path} ({len(config.projects)} projects)"))
    except ConfigError as exc:
        config = EnnioConfig()
        results.append(CheckResult("config", "fail", exc.message, exc.hint or "run `ennio config validate`"))

    results.append(await check_program("git", "git", "install git (Debian: apt-get install git)"))
    uses_tmux = config.defaults.runtime == "tmux" or any(config.runtime_for(p) == "tmux" for p in config.projects)
    results.append(
        await check_program("tmux", "tmux", "install tmux (Debian: apt-get install tmux)", required=uses_tmux)
    )
    results += _agent_checks(config, registry)
    tokens = _token_checks(config)
    results += tokens
    results += await _budget_checks(config, registry, skip={r.name.split()[0] for r in tokens if r.status == "fail"})
    results.append(await check_database(config))
    if config.nats_url is not None:
        results.append(await check_nats(config.nats_url.get_secret_value()))
    return results
