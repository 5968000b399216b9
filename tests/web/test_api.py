"""The HTTP API of a real daemon: sessions end to end, errors as JSON, the bearer token, events, metrics."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from ennio.core.config import EnnioConfig
from ennio.daemon.server import DaemonState
from tests.helpers.daemon import on_free_port, running_daemon
from tests.helpers.runtime import wait_received
from tests.helpers.sessions_env import make_config, services, tmux_sessions
from tests.helpers.wait import async_wait_for


def echo_out(data_dir: Path, session_id: str) -> Path:
    return data_dir / "echo" / session_id


async def test_health(client: httpx.AsyncClient, daemon: DaemonState) -> None:
    answer = await client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok" and answer.json()["pid"] == daemon.pid


async def test_spawn_info_send_kill_through_the_api(
    client: httpx.AsyncClient, data_dir: Path, tmux_socket: str
) -> None:
    made = await client.post("/api/v1/sessions", json={"project": "app", "prompt": "Write the docs"})
    assert made.status_code == 201, made.text
    session = made.json()
    assert session["id"] == "app-1" and session["status"] == "working" and session["branch"] == "session/app-1"
    assert wait_received(echo_out(data_dir, "app-1"), 1)[0].startswith("Write the docs")

    info = (await client.get("/api/v1/sessions/app-1")).json()
    assert info["alive"] is True and info["activity"]["state"] == "ready"
    assert info["attach"][:3] == ["tmux", "-L", tmux_socket]
    assert "session.spawned" in [e["type"] for e in info["events"]]  # the lifecycle may have added some

    sent = await client.post("/api/v1/sessions/app-1/send", json={"text": "and the changelog"})
    assert sent.json()["delivered"] is True
    assert wait_received(echo_out(data_dir, "app-1"), 2)[1] == "and the changelog"

    listed = (await client.get("/api/v1/sessions", params={"project": "app", "status": "working"})).json()
    assert [s["id"] for s in listed] == ["app-1"]

    killed = await client.post("/api/v1/sessions/app-1/kill", json={"workspace": True})
    assert killed.status_code == 200 and killed.json()["status"] == "killed"
    assert tmux_sessions(tmux_socket) == []
    assert not Path(session["workspace_path"]).exists()


async def test_errors_are_one_json_body_with_a_fitting_status(client: httpx.AsyncClient) -> None:
    unknown = await client.post("/api/v1/sessions", json={"project": "ap", "prompt": "x"})
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": "not_found",
        "message": "no project 'ap' in the configuration",
        "hint": "did you mean 'app'?",
    }

    bad_branch = await client.post("/api/v1/sessions", json={"project": "app", "prompt": "x", "branch": "a;b"})
    assert bad_branch.status_code == 400 and bad_branch.json()["error"] == "invalid_id"

    bad_id = await client.get("/api/v1/sessions/..")
    assert bad_id.status_code in (400, 404)
    bad_id = await client.get("/api/v1/sessions/-rf")
    assert bad_id.status_code == 400 and "must not start with '-'" in bad_id.json()["message"]

    missing = await client.get("/api/v1/sessions/app-99")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"

    body = await client.post("/api/v1/sessions/app-1/send", json={"txt": "typo"})
    assert body.status_code == 400 and body.json()["error"] == "invalid_input"
    assert "text" in body.json()["message"]

    nothing = await client.post("/api/v1/sessions", json={"project": "app"})
    assert nothing.status_code == 400 and "nothing to do" in nothing.json()["message"]


async def test_unsafe_kill_is_a_conflict_naming_the_reasons(client: httpx.AsyncClient, data_dir: Path) -> None:
    session = (await client.post("/api/v1/sessions", json={"project": "app", "prompt": "x"})).json()
    (Path(session["workspace_path"]) / "draft.md").write_text("unsaved")

    refused = await client.post(f"/api/v1/sessions/{session['id']}/kill", json={"workspace": True})

    assert refused.status_code == 409
    body = refused.json()
    assert body["error"] == "unsafe_destroy" and "draft.md" in body["reasons"][0]
    again = await client.post(f"/api/v1/sessions/{session['id']}/restore")
    assert again.status_code == 409 and "still running" in again.json()["message"]


async def test_restore_and_cleanup_through_the_api(client: httpx.AsyncClient, data_dir: Path) -> None:
    session = (await client.post("/api/v1/sessions", json={"project": "app", "prompt": "x"})).json()
    await client.post(f"/api/v1/sessions/{session['id']}/send", json={"text": "/quit"})

    async def exited() -> bool:
        info = (await client.get(f"/api/v1/sessions/{session['id']}")).json()
        return info["alive"] is False

    await async_wait_for(exited, 15, what="the agent to exit")
    restored = await client.post(f"/api/v1/sessions/{session['id']}/restore")
    assert restored.status_code == 200 and restored.json()["status"] == "working"

    report = (await client.post("/api/v1/cleanup", json={"dry_run": True})).json()
    assert report["dry_run"] is True and report["cleaned"] == []
    assert report["skipped"][0]["session_id"] == session["id"]


async def test_batch_spawn_through_the_api(client: httpx.AsyncClient, repo: Path) -> None:
    from ennio.core.config import ProjectConfig
    from ennio.plugins.tracker.local import LocalTracker
    from tests.helpers.runtime import plugin_context

    project = ProjectConfig.model_validate({"name": "app", "path": str(repo), "tracker": {"provider": "local"}})
    tracker = LocalTracker(project, plugin_context(repo.parent))
    keys = [(await tracker.create_issue(f"Task {i}")).key for i in range(3)]

    answer = await client.post("/api/v1/sessions/batch", json={"project": "app", "issues": [*keys, "404"]})

    assert answer.status_code == 200
    items = answer.json()
    assert [bool(i["session"]) for i in items] == [True, True, True, False]
    assert items[3]["error"]["error"] == "not_found"


async def test_the_token_is_required_when_set(tmux_socket: str, data_dir: Path, repo: Path) -> None:
    config = on_free_port(make_config(data_dir, repo), api_token="s3cret-token")
    async with running_daemon(config) as daemon, httpx.AsyncClient(base_url=daemon.url) as http:
        assert (await http.get("/healthz")).status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
            refused = await http.get("/api/v1/sessions", headers=headers)
            assert refused.status_code == 401
            assert refused.json()["error"] == "unauthorized"
            assert refused.headers["www-authenticate"] == "Bearer"
            assert "s3cret" not in refused.text
        assert (await http.get("/metrics")).status_code == 401
        ok = await http.get("/api/v1/sessions", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200 and ok.json() == []


async def test_events_page_and_stream_include_other_processes(
    client: httpx.AsyncClient, config: EnnioConfig, daemon: DaemonState
) -> None:
    """A CLI process (its own services on the same database) spawns; the daemon's stream carries the event."""
    received: list[dict[str, object]] = []
    latest = (await client.get("/api/v1/events", params={"newest_first": True, "limit": 1})).json()
    start = latest[0]["seq"] if latest else 0

    async def follow() -> None:
        params = {"limit": 2, "after": start}
        async with client.stream("GET", "/api/v1/events/stream", params=params) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    received.append(json.loads(line[5:]))

    follower = asyncio.create_task(follow())
    async with services(config) as cli:
        made = await cli.sessions.spawn("app", prompt="from the cli")
        await cli.sessions.kill(made.id)
    await asyncio.wait_for(follower, 20)

    assert [e["type"] for e in received] == ["session.spawned", "session.killed"]
    assert all(e["session_id"] == made.id for e in received)
    page = (await client.get("/api/v1/events", params={"session": made.id})).json()
    assert [e["type"] for e in page] == ["session.spawned", "session.killed"]
    assert page[0]["seq"] < page[1]["seq"]
    resumed = await client.get("/api/v1/events", params={"after": page[0]["seq"]})
    assert [e["type"] for e in resumed.json()] == ["session.killed"]


async def test_metrics_count_sessions_and_requests(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/sessions", json={"project": "app", "prompt": "x"})
    text = (await client.get("/metrics")).text
    assert 'ennio_sessions{status="working"} 1.0' in text
    assert 'ennio_http_requests_total{method="POST",route="/api/v1/sessions",status="201"} 1.0' in text
    assert "process_resident_memory_bytes" in text


async def test_a_second_daemon_on_the_same_data_dir_is_refused(daemon: DaemonState, config: EnnioConfig) -> None:
    from ennio.core.errors import DaemonError

    with pytest.raises(DaemonError, match=f"already runs on .*pid {daemon.pid}"):
        async with running_daemon(config):
            pass


async def test_listening_off_loopback_needs_a_token(tmux_socket: str, data_dir: Path, repo: Path) -> None:
    from ennio.core.config import ServerConfig
    from ennio.core.errors import DaemonError

    config = make_config(data_dir, repo)
    config.server = ServerConfig.model_construct(host="0.0.0.0", port=0, api_token=None, cors_origins=[])
    with pytest.raises(DaemonError, match="without an API token"):
        async with running_daemon(config):
            pass


async def test_integers_past_what_the_database_stores_are_bad_input(client: httpx.AsyncClient) -> None:
    # schemathesis once got a 500 here: SQLite's driver raised OverflowError on a 20-digit integer
    huge = "9" * 20
    for params in ({"after": huge}, {"after": str(2**63)}):
        answer = await client.get("/api/v1/events", params=params)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "invalid_input" and "after" in answer.json()["message"]
    assert (await client.get("/api/v1/events", params={"after": str(2**63 - 1)})).json() == []
    stream = await client.get("/api/v1/events/stream", params={"limit": huge})
    assert stream.status_code == 400


async def test_webhooks_without_a_configured_secret_are_refused(client: httpx.AsyncClient) -> None:
    body = json.dumps({"zen": "z"}).encode()
    github = await client.post("/webhooks/github", content=body, headers={"X-GitHub-Event": "ping"})
    assert github.status_code == 401
    assert github.json()["message"] == "no GitHub webhook secret is configured, so no delivery can be verified"
    assert "scm.webhook_secret" in github.json()["hint"]
    linear = await client.post("/webhooks/linear", content=body, headers={"Linear-Signature": "00"})
    assert linear.status_code == 401 and "tracker.webhook_secret" in linear.json()["hint"]


async def test_webhooks_need_no_api_token_but_poke_does(tmux_socket: str, data_dir: Path, repo: Path) -> None:
    config = on_free_port(make_config(data_dir, repo), api_token="s3cret-token")
    async with running_daemon(config) as state, httpx.AsyncClient(base_url=state.url) as http:
        assert (await http.post("/api/v1/poke")).status_code == 401
        # refused for its missing signature, not for the missing bearer token
        hook = await http.post("/webhooks/github", content=b"{}", headers={"X-GitHub-Event": "ping"})
        assert hook.status_code == 401 and "webhook secret" in hook.json()["message"]
        poked = await http.post("/api/v1/poke", headers={"Authorization": "Bearer s3cret-token"})
        assert poked.status_code == 202 and poked.json() == {"sessions": [], "all": True}
