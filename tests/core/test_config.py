from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from ennio.core.config import (
    DEFAULT_PORT,
    DEFAULT_REACTIONS,
    REACTION_NAMES,
    EnnioConfig,
    GitHubSCMConfig,
    LinearTrackerConfig,
    LocalSCMConfig,
    LocalTrackerConfig,
    ReactionConfig,
    suggest,
)
from ennio.core.errors import NotFound
from ennio.core.events import Priority


def project(**extra: Any) -> dict[str, Any]:
    return {"name": "My App", "path": "/src/app", **extra}


def validate(**data: Any) -> EnnioConfig:
    return EnnioConfig.model_validate(data)


def error_text(**data: Any) -> str:
    with pytest.raises(ValidationError) as info:
        EnnioConfig.model_validate(data)
    return str(info.value)


def test_defaults() -> None:
    config = EnnioConfig()
    assert config.server.host == "127.0.0.1"
    assert config.server.port == DEFAULT_PORT
    assert config.database_url is None
    assert config.defaults.agent == "claude-code"
    assert config.defaults.runtime == "tmux"
    assert config.defaults.workspace == "worktree"
    assert config.lifecycle.poll_interval == timedelta(seconds=30)
    assert set(config.reactions) == set(REACTION_NAMES)
    assert len(REACTION_NAMES) == 9
    assert config.reactions == DEFAULT_REACTIONS
    assert config.notification_routing.priorities == {Priority.URGENT: ["*"], Priority.CRITICAL: ["*"]}


def test_server_off_loopback_needs_a_token_and_secrets_stay_hidden() -> None:
    assert "api_token must be set" in error_text(server={"host": "0.0.0.0"})
    config = validate(server={"host": "0.0.0.0", "api_token": "s3cret"}, database_url="postgresql://u:pw@h/db")
    assert isinstance(config.server.api_token, SecretStr)
    assert "s3cret" not in repr(config) and "pw@" not in repr(config)
    assert "s3cret" not in config.model_dump_json()
    assert config.server.api_token.get_secret_value() == "s3cret"


def test_unknown_keys_are_errors() -> None:
    assert "Extra inputs are not permitted" in error_text(sever={})
    assert "Extra inputs are not permitted" in error_text(projects=[project(agnet="codex")])


def test_project_derives_id_and_prefix_and_checks_paths() -> None:
    config = validate(projects=[project(), project(name="Other", id="other", session_prefix="oth")])
    first, second = config.projects
    assert (first.pid, first.prefix) == ("my-app", "my-app")
    assert (second.pid, second.prefix) == ("other", "oth")
    assert first.default_branch == "main"
    assert first.path == Path("/src/app")
    assert validate(projects=[project(path="~/src/app")]).projects[0].path == Path.home() / "src/app"
    assert validate(projects=[project(name="日本")]).projects[0].pid == "project"
    assert "must be a path inside the repository" in error_text(projects=[project(symlinks=["../secrets"])])
    assert "must be a path inside the repository" in error_text(projects=[project(copy_files=["/etc/passwd"])])


def test_duplicate_project_ids_and_prefixes() -> None:
    assert "already used by projects[0]" in error_text(projects=[project(), project(path="/other")])
    text = error_text(projects=[project(session_prefix="x"), project(name="b", session_prefix="x")])
    assert "session_prefix 'x'" in text


def test_project_lookup_and_plugin_defaults() -> None:
    config = validate(defaults={"agent": "codex"}, projects=[project(id="app", runtime="process")])
    app = config.project("app")
    assert config.agent_for(app) == "codex"
    assert config.runtime_for(app) == "process"
    assert config.workspace_for(app) == "worktree"
    with pytest.raises(NotFound) as info:
        config.project("apq")
    assert info.value.hint == "did you mean 'app'?"


def test_trackers_and_scms_by_provider() -> None:
    config = validate(
        projects=[
            project(id="a", tracker={"provider": "linear", "team": "ENG"}, scm={"provider": "github", "repo": "o/r"}),
            project(
                id="b", path="/b", tracker={"provider": "local"}, scm={"provider": "local", "ci_command": "make test"}
            ),
        ]
    )
    a, b = config.projects
    assert isinstance(a.tracker, LinearTrackerConfig) and a.tracker.team == "ENG"
    assert isinstance(a.scm, GitHubSCMConfig) and a.scm.merge_method == "squash"
    assert isinstance(b.tracker, LocalTrackerConfig)
    assert isinstance(b.scm, LocalSCMConfig) and b.scm.ci_command == ["make", "test"]
    assert "githb" in error_text(projects=[project(scm={"provider": "githb"})])


def test_commands_are_argv_lists() -> None:
    config = validate(projects=[project(post_create=["npm ci", ["uv", "sync", "--frozen"], "echo 'a b'"])])
    assert config.projects[0].post_create == [["npm", "ci"], ["uv", "sync", "--frozen"], ["echo", "a b"]]
    assert "command is empty" in error_text(projects=[project(post_create=["  "])])
    assert "cannot split command" in error_text(projects=[project(post_create=["echo 'unclosed"])])
    assert "non-empty list of strings" in error_text(projects=[project(post_create=[[]])])


def test_agent_config() -> None:
    config = validate(
        projects=[project(agent_config={"model": "opus", "env": {"FOO_1": "x"}, "command": "my-agent -v"})]
    )
    agent = config.projects[0].agent_config
    assert agent.permissions == "accept-edits"
    assert agent.command == ["my-agent", "-v"]
    assert "not a valid environment variable name" in error_text(projects=[project(agent_config={"env": {"1X": ""}})])
    assert "not a valid environment variable name" in error_text(projects=[project(agent_config={"env": {"A-B": ""}})])
    assert "'ask'" in error_text(projects=[project(agent_config={"permissions": "yolo"})])


def test_reactions_merge_key_by_key_over_the_defaults() -> None:
    config = validate(reactions={"ci-failed": {"retries": 5}, "agent-stuck": {"threshold": "20m"}})
    ci = config.reactions["ci-failed"]
    assert ci.retries == 5
    assert ci.action == "send_to_agent"
    assert ci.escalate_after == timedelta(minutes=30)
    assert config.reactions["agent-stuck"].threshold == timedelta(minutes=20)
    assert config.reactions["agent-stuck"].priority is Priority.URGENT
    assert config.reactions["changes-requested"] == DEFAULT_REACTIONS["changes-requested"]
    assert set(config.reactions) == set(REACTION_NAMES)


def test_reaction_names_and_keys_are_checked() -> None:
    assert "did you mean 'ci-failed'" in error_text(reactions={"ci-faild": {"retries": 1}})
    assert "Extra inputs" in error_text(reactions={"ci-failed": {"retires": 1}})
    assert "did you mean 'ci-failed'" in error_text(projects=[project(reactions={"ci_failed": {}})])


def test_per_project_reaction_overrides() -> None:
    config = validate(
        reactions={"ci-failed": {"retries": 5, "escalate_after": "1h"}},
        projects=[
            project(id="app", reactions={"ci-failed": {"retries": 1}, "approved-and-green": {"action": "auto_merge"}})
        ],
    )
    merged = config.reactions_for("app")
    assert merged["ci-failed"].retries == 1
    assert merged["ci-failed"].escalate_after == timedelta(hours=1)  # global override kept
    assert merged["approved-and-green"].action == "auto_merge"
    assert merged["merge-conflicts"] == DEFAULT_REACTIONS["merge-conflicts"]
    assert config.reactions_for(None)["ci-failed"].retries == 5
    assert isinstance(merged["ci-failed"], ReactionConfig)


def test_notifiers_and_routing() -> None:
    config = validate(
        notifiers={"desk": {"type": "desktop"}, "hook": {"type": "webhook", "url": "http://127.0.0.1:9/x"}},
        defaults={"notifiers": ["desk"]},
        notification_routing={"events": {"ci.*": ["hook"], "pr.merged": ["desk"], "*": ["desk"]}},
        reactions={"agent-exited": {"notifiers": ["hook"]}},
    )
    assert config.notifiers["hook"].type == "webhook"
    assert "did you mean 'desk'" in error_text(notifiers={"desk": {"type": "desktop"}}, defaults={"notifiers": ["dsk"]})
    assert "define it under notifiers" in error_text(reactions={"agent-exited": {"notifiers": ["pager"]}})
    assert "did you mean 'ci.failing'" in error_text(notification_routing={"events": {"ci.failng": []}})
    assert "unknown event type 'nope.*'" in error_text(notification_routing={"events": {"nope.*": []}})
    assert "webhook_url" in error_text(notifiers={"s": {"type": "slack"}})
    assert "'apprise'" in error_text(notifiers={"s": {"type": "pager"}})


def test_budgets() -> None:
    config = validate(budgets={"daily_usd": 20, "projects": {"app": {"per_session_usd": 2}}})
    assert config.budgets.warn_at == 0.8
    assert config.budgets.projects["app"].per_session_usd == 2
    assert "greater than 0" in error_text(budgets={"daily_usd": 0})
    assert "less than or equal to 1" in error_text(budgets={"warn_at": 1.5})


def test_json_schema_describes_the_file() -> None:
    schema = EnnioConfig.model_json_schema()
    assert set(schema["properties"]) >= {"server", "projects", "reactions", "budgets", "notifiers", "database_url"}
    project_schema = schema["$defs"]["ProjectConfig"]
    assert "Local path of the repository." in project_schema["properties"]["path"]["description"]


def test_suggest() -> None:
    assert suggest("githb", ["github", "local"]) == "github"
    assert suggest("zzz", ["github", "local"]) is None
