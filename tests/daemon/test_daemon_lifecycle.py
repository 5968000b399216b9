"""``ennio start`` runs the lifecycle and the reactions: the daemon's default components."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from ennio.core.config import EnnioConfig
from ennio.core.events import EventType
from ennio.core.plugins import RuntimeHandle
from ennio.daemon.server import default_components
from ennio.db import open_database
from tests.helpers.daemon import on_free_port, running_daemon
from tests.helpers.runtime import TMUX
from tests.helpers.sessions_env import make_config
from tests.helpers.wait import async_wait_for


def test_the_orchestrator_is_a_default_daemon_component() -> None:
    from ennio.services.orchestrator import Orchestrator

    assert default_components() == [Orchestrator.from_services]


async def test_the_daemon_notices_an_agent_that_died(tmux_socket: str, data_dir: Path, repo: Path) -> None:
    values = make_config(data_dir, repo).model_dump(mode="python")
    values["lifecycle"] = {"poll_interval": "1s"}
    config = on_free_port(EnnioConfig.model_validate(values))
    async with running_daemon(config) as state, httpx.AsyncClient(base_url=state.url) as client:
        made = await client.post("/api/v1/sessions", json={"project": "app", "prompt": "Write the docs"})
        assert made.status_code == 201, made.text
        handle = RuntimeHandle.from_dict(made.json()["runtime_handle"])
        subprocess.run([TMUX, "-L", tmux_socket, "kill-session", "-t", f"={handle.id}"], check=True)

        async def exited() -> bool:
            info = (await client.get("/api/v1/sessions/app-1")).json()
            return bool(info["session"]["status"] == "exited")

        await async_wait_for(exited, timeout=20, what="the daemon's lifecycle to see the agent gone")

    db = await open_database(None, data_dir)
    try:
        types = [s.event.type for s in await db.events.query(session_id="app-1", limit=100)]
        history = await db.sessions.history("app-1")
    finally:
        await db.close()
    assert EventType.SESSION_EXITED in types and EventType.REACTION_TRIGGERED in types  # agent-exited
    assert history[-1].reason == "the agent exited"
