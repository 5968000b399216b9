"""schemathesis against a real daemon: every operation of the app's own OpenAPI schema, with generated input,
answers with a documented status code and a body that matches the schema — and never with a server error.

Generated input rarely names a real project or session, so each operation also gets a few given examples
that do (a real spawn with the echo agent, then send, info, kill, restore on it); ``max_sessions`` caps
what generated spawns may start. The SSE stream is tested in test_api.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, example, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers.daemon import daemon_in_thread, on_free_port
from tests.helpers.sessions_env import make_config

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
TOKEN = "schema-test-token"
SKIPPED = {"/api/v1/events/stream"}  # endless by design
SESSION = {"session_id": "app-1"}
EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "POST /api/v1/sessions": [{"body": {"project": "app", "prompt": "Fix the login bug"}}],
    "GET /api/v1/sessions/{session_id}": [{"path_parameters": SESSION}],
    "POST /api/v1/sessions/{session_id}/send": [{"path_parameters": SESSION, "body": {"text": "/quit"}}],
    "POST /api/v1/sessions/{session_id}/kill": [{"path_parameters": SESSION, "body": {"workspace": True}}],
    "POST /api/v1/sessions/{session_id}/restore": [{"path_parameters": SESSION}],
    "POST /api/v1/cleanup": [{"body": {"project": "app", "dry_run": True}}],
    "GET /api/v1/events": [{"query": {"session": "app-1", "limit": 5}}, {"query": {"after": 2**63 - 1}}],
    "POST /api/v1/poke": [{"body": {"sessions": ["app-1"]}}, {"body": {"project": "app"}}],
    "GET /api/v1/queue": [{"query": {"all": True}}],
    "POST /api/v1/sessions/batch": [{"body": {"project": "app", "issues": ["1", "2"]}}],
}


def test_every_operation_conforms_to_the_schema(tmux_socket: str, data_dir: Path, repo: Path) -> None:
    config = on_free_port(make_config(data_dir, repo, max_sessions=2), api_token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    statuses: dict[str, set[int]] = {}
    with daemon_in_thread(config) as daemon:
        schema = schemathesis.openapi.from_url(f"{daemon.url}/openapi.json")
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path not in SKIPPED:
                fuzz(operation, daemon.url, headers, statuses)
    assert len(statuses) >= 11, statuses
    # the examples reached the real work, not only the error paths
    assert 201 in statuses["POST /api/v1/sessions"]
    assert 200 in statuses["POST /api/v1/sessions/{session_id}/send"]
    assert 200 in statuses["POST /api/v1/sessions/{session_id}/kill"]


def fuzz(operation: Any, base_url: str, headers: dict[str, str], statuses: dict[str, set[int]]) -> None:
    """Generated cases plus the given examples of one operation, each checked by schemathesis."""
    name = f"{operation.method.upper()} {operation.path}"

    def conforms(case: schemathesis.Case) -> None:
        response = case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=60)
        statuses.setdefault(name, set()).add(response.status_code)

    test = given(case=operation.as_strategy())(conforms)
    for kwargs in EXAMPLES.get(name, []):
        test = example(case=operation.Case(**kwargs))(test)
    settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))(test)()
