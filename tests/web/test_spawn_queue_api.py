"""Queued spawns through the API on a real daemon: refused or queued (``when_unblocked``), listed, cancelled,
kept across a daemon restart, and released by the lifecycle — on its first pass after the restart, and at once
when a signed ``issues`` webhook says a blocker closed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.helpers.fake_github import REPO
from tests.helpers.github_webhooks import Payloads, delivery
from tests.helpers.wait import async_wait_for
from tests.web.conftest import GITHUB_SECRET, ForgeDaemon


async def queue(forge: ForgeDaemon, *, everything: bool = True) -> list[dict[str, Any]]:
    response = await forge.http.get("/api/v1/queue", params={"all": "true" if everything else "false"})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def spawned(forge: ForgeDaemon, qid: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        return next((q for q in await queue(forge) if q["id"] == qid and q["status"] == "spawned"), None)

    found: dict[str, Any] = await async_wait_for(done, timeout=45, what=f"{qid} to be spawned")
    return found


async def test_queued_spawns_survive_a_restart_and_are_released(forge_daemon_factory: Callable[[], Any]) -> None:
    async with forge_daemon_factory() as forge:
        github = forge.github
        schema, docs = github.add_issue(REPO, "Schema"), github.add_issue(REPO, "Docs")
        api = github.add_issue(REPO, "API", f"Blocked by #{schema.number}")
        guide = github.add_issue(REPO, "Guide", f"depends on #{docs.number}")

        refused = await forge.http.post("/api/v1/sessions", json={"project": "widgets", "issue": f"#{api.number}"})
        assert refused.status_code == 409 and refused.json()["error"] == "blocked"
        assert f"blocked by #{schema.number}" in refused.json()["message"]
        ids = []
        for issue in (api, guide):
            body = {"project": "widgets", "issue": f"#{issue.number}", "when_unblocked": True}
            response = await forge.http.post("/api/v1/sessions", json=body)
            assert response.status_code == 202, response.text
            assert response.json()["status"] == "waiting"
            ids.append(response.json()["id"])
        assert [q["id"] for q in await queue(forge, everything=False)] == ids
        extra = github.add_issue(REPO, "Extra", f"blocked by #{schema.number}")
        body = {"project": "widgets", "issues": [f"#{extra.number}"], "when_unblocked": True}
        batch = await forge.http.post("/api/v1/sessions/batch", json=body)
        assert batch.status_code == 200, batch.text
        [item] = batch.json()
        assert item["session"] is None and item["error"] is None
        assert (item["queued"]["status"], item["queued"]["blockers"]) == ("waiting", [str(schema.number)])
        assert (await forge.http.post(f"/api/v1/queue/{item['queued']['id']}/cancel")).status_code == 200
        missing = await forge.http.post("/api/v1/queue/q999/cancel")
        assert missing.status_code == 404
        assert (await forge.http.post("/api/v1/queue/nope/cancel")).status_code == 400

    github.repo(REPO).issues[schema.number].state = "closed"  # while no daemon runs
    async with forge_daemon_factory() as forge:
        first = await spawned(forge, ids[0])
        session = (await forge.http.get(f"/api/v1/sessions/{first['session_id']}")).json()["session"]
        assert session["issue_id"] == str(api.number) and session["status"] == "working"
        assert next(q for q in await queue(forge) if q["id"] == ids[1])["status"] == "waiting"

        github.repo(REPO).issues[docs.number].state = "closed"
        hook = delivery(
            "issues", Payloads(github, REPO).issues_event(github.repo(REPO).issues[docs.number]), GITHUB_SECRET
        )
        response = await forge.http.post("/webhooks/github", content=hook.body, headers=hook.headers)
        assert response.status_code == 202, response.text
        second = await spawned(forge, ids[1])  # the lifecycle polls hourly here: the webhook did this
        assert second["session_id"] != first["session_id"]
