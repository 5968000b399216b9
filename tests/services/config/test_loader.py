from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ennio.core.config import DEFAULT_REACTIONS, GitHubSCMConfig
from ennio.core.errors import ConfigError
from ennio.services.config.loader import (
    CONFIG_ENV,
    expand_vars,
    find_config,
    load_config,
    load_config_text,
    load_storage_settings,
)

MINIMAL = "projects:\n  - name: app\n    path: .\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def config_error(text: str, **env: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config_text(textwrap.dedent(text), env=env)
    return info.value


# --------------------------------------------------------------------------- discovery


@pytest.mark.parametrize("name", ["ennio.yaml", "ennio.yml", ".ennio.yaml"])
def test_discovery_walks_up_from_the_working_directory(tmp_path: Path, name: str) -> None:
    config = write(tmp_path / "repo" / name, MINIMAL)
    deep = tmp_path / "repo" / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_config(deep) == config
    assert find_config(tmp_path) is None


def test_discovery_prefers_the_nearest_folder_then_ennio_yaml(tmp_path: Path) -> None:
    write(tmp_path / "ennio.yaml", MINIMAL)
    write(tmp_path / "sub" / ".ennio.yaml", MINIMAL)
    nearest = write(tmp_path / "sub" / "ennio.yml", MINIMAL)
    assert find_config(tmp_path / "sub") == nearest
    first = write(tmp_path / "sub" / "ennio.yaml", MINIMAL)
    assert find_config(tmp_path / "sub") == first


def test_ennio_config_variable_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "ennio.yaml", MINIMAL)
    other = write(tmp_path / "elsewhere" / "mine.yaml", MINIMAL)
    monkeypatch.setenv(CONFIG_ENV, str(other))
    assert find_config(tmp_path) == other


def test_load_from_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "ennio.yaml", MINIMAL)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    loaded = load_config()
    assert loaded.path == tmp_path / "ennio.yaml"
    assert loaded.config.projects[0].path == tmp_path


def test_no_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = load_config()
    assert loaded.path is None
    assert loaded.config.projects == []


def test_explicit_path_like_dash_c(tmp_path: Path) -> None:
    config = write(tmp_path / "configs" / "team.yaml", MINIMAL)
    loaded = load_config(config)
    assert loaded.path == config
    assert loaded.config.projects[0].path == config.parent  # relative paths are relative to the file


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.yaml", "file not found"),
        (lambda p: p, "is a folder"),
        (lambda p: (p / "latin1.yaml").write_bytes(b"name: caf\xe9") and p / "latin1.yaml", "cannot read"),
    ],
)
def test_unreadable_files(tmp_path: Path, make: object, message: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in info.value.message
    assert str(path) in info.value.message


def test_empty_file_is_the_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path / "ennio.yaml", "# nothing yet\n")).config.projects == []


# --------------------------------------------------------------------------- ${VAR} and ~


def test_variables_are_expanded() -> None:
    text = """
    database_url: ${DB_URL}
    nats_url: ${NATS_URL:-nats://127.0.0.1:4222}
    server:
      api_token: ${TOKEN:-fallback}
    projects:
      - name: app
        path: /srv/${APP:-app}
        agent_rules: "costs $$5, home is ${HOME_DIR}"
    """
    env = {"DB_URL": "sqlite:///x.db", "TOKEN": "", "HOME_DIR": "/home/me"}
    config = load_config_text(textwrap.dedent(text), env=env).config
    assert config.database_url is not None and config.database_url.get_secret_value() == "sqlite:///x.db"
    assert config.nats_url is not None and config.nats_url.get_secret_value() == "nats://127.0.0.1:4222"
    assert config.server.api_token is not None and config.server.api_token.get_secret_value() == "fallback"
    assert config.projects[0].path == Path("/srv/app")
    assert config.projects[0].agent_rules == "costs $5, home is /home/me"


def test_a_variable_can_be_a_number() -> None:
    assert load_config_text("server:\n  port: ${PORT}\n", env={"PORT": "9000"}).config.server.port == 9000


def test_empty_variable_without_default_is_empty() -> None:
    config = load_config_text(
        "projects:\n  - name: app\n    path: .\n    agent_rules: 'x${EMPTY}y'\n", env={"EMPTY": ""}
    )
    assert config.config.projects[0].agent_rules == "xy"


def test_missing_variable_names_the_line_the_key_and_what_to_do() -> None:
    error = config_error(
        """
        projects:
          - name: app
            path: .
            scm:
              provider: github
              token: ${GITHUB_TOKEN}
        """
    )
    assert error.message == "ennio.yaml:7: projects[0].scm.token: environment variable GITHUB_TOKEN is not set"
    assert error.hint is not None and "${GITHUB_TOKEN:-default}" in error.hint


def test_expand_vars_directly() -> None:
    assert expand_vars("a${X}b${Y:-d}$$", {"X": "1"}) == "a1bd$"
    assert expand_vars("$X ${not closed", {}) == "$X ${not closed"


def test_tilde_and_relative_paths(tmp_path: Path) -> None:
    config = write(
        tmp_path / "ennio.yaml",
        """
        data_dir: ./state
        projects:
          - name: a
            path: ~/src/a
          - name: b
            path: ../b
            ssh:
              host: build1
              identity_file: ~/.ssh/id_ed25519
        """,
    )
    loaded = load_config(config).config
    assert loaded.projects[0].path == Path.home() / "src" / "a"
    assert loaded.projects[1].path == (tmp_path / ".." / "b").resolve()
    assert loaded.data_dir == tmp_path / "state"
    ssh = loaded.projects[1].ssh
    assert ssh is not None and ssh.identity_file == Path.home() / ".ssh" / "id_ed25519"


def test_durations_from_yaml() -> None:
    config = load_config_text("lifecycle:\n  poll_interval: 45\n  session_timeout: 2m\n").config
    assert config.lifecycle.poll_interval == timedelta(seconds=45)
    assert config.lifecycle.session_timeout == timedelta(minutes=2)
    error = config_error("lifecycle:\n  poll_interval: 5 minutes\n")
    assert error.message.startswith("ennio.yaml:2: lifecycle.poll_interval: cannot read duration '5 minutes'")


# --------------------------------------------------------------------------- error messages


def test_misspelt_provider_gets_a_suggestion_with_file_line_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path / "ennio.yaml",
        """
        projects:
          - name: app
            path: .
            scm:
              provider: githb
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.message == f"{path}:6: projects[0].scm.provider: unknown 'githb' — did you mean 'github'?"
    assert info.value.line == 6
    assert info.value.key == "projects[0].scm.provider"
    assert info.value.file == str(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sever:\n  port: 1\n", "ennio.yaml:1: sever: unknown key 'sever' — did you mean 'server'?"),
        (
            "projects:\n  - name: a\n    path: .\n    agnet: codex\n",
            "ennio.yaml:4: projects[0].agnet: unknown key 'agnet' — did you mean 'agent'?",
        ),
        (
            "projects:\n  - name: a\n    path: .\n    tracker:\n      provider: linaer\n",
            "ennio.yaml:5: projects[0].tracker.provider: unknown 'linaer' — did you mean 'linear'?",
        ),
        (
            "projects:\n  - name: a\n    path: .\n    tracker: {}\n",
            "ennio.yaml:4: projects[0].tracker: needs a 'provider' key",
        ),
        ("projects:\n  - name: a\n", "ennio.yaml:2: projects[0].path: required key 'path' is missing"),
        ("server:\n  port: 99999\n", "ennio.yaml:2: server.port: Input should be less than or equal to 65535"),
        (
            "projects:\n  - name: a\n    path: .\n    agent_config:\n      permissions: yolo\n",
            "ennio.yaml:5: projects[0].agent_config.permissions: unknown 'yolo'; choose one of: ask, accept-edits, bypass, plan",
        ),
        (
            "projects:\n  - name: a\n    path: .\n    id: 'a b'\n",
            "ennio.yaml:4: projects[0].id: project id 'a b' contains ' '; use only letters, digits, '_' and '-'",
        ),
        (
            "projects:\n  - name: a\n    path: .\n    default_branch: -main\n",
            "ennio.yaml:4: projects[0].default_branch: branch name '-main' must not start with '-'; "
            "use letters, digits and . _ + - in parts separated by '/'",
        ),
        (
            "reactions:\n  ci-faild:\n    retries: 2\n",
            "ennio.yaml:1: reactions: unknown reaction 'ci-faild' — did you mean 'ci-failed'?",
        ),
        ("projects: 5\n", "ennio.yaml:1: projects: Input should be a valid list"),
        ("- a\n- b\n", "ennio.yaml:1: the top level must be a mapping of keys (server:, projects:, …)"),
        ("server:\n  port: [1\n", "ennio.yaml:3: invalid YAML: did not find expected ',' or ']'"),
        ("a: 1\na: 2\n", "ennio.yaml:2: (top level): key 'a' appears twice"),
        ("server: !!python/object:os.system {}\n", "ennio.yaml:1: server: unsupported YAML tag"),
        ("server:\n  host: !!python/name:os.system\n", "ennio.yaml:2: invalid YAML: could not determine a constructor"),
    ],
)
def test_error_messages(text: str, expected: str) -> None:
    error = config_error(text)
    assert error.message.startswith(expected), error.message
    assert "\n" not in error.message


def test_every_problem_is_listed_one_per_line() -> None:
    error = config_error(
        """
        sever: {}
        server:
          port: -1
        lifecycle:
          concurrency: 0
        """
    )
    assert error.problems[0] == "ennio.yaml:2: sever: unknown key 'sever' — did you mean 'server'?"
    assert error.problems[1:] == [
        "ennio.yaml:4: server.port: Input should be greater than or equal to 0",
        "ennio.yaml:6: lifecycle.concurrency: Input should be greater than or equal to 1",
    ]
    assert error.hint == "2 more problems in this file; run `ennio config validate`"


def test_yaml_anchors_and_merge_keys() -> None:
    text = """
    x-common: &common
      path: /srv/app
      agent: codex
    projects:
      - <<: *common
        name: app
    """
    error = config_error(text)  # x-common is not a known key...
    assert "unknown key 'x-common'" in error.message
    text = """
    projects:
      - &app {name: app, path: /srv/app, agent: codex}
      - <<: *app
        name: web
    """
    config = load_config_text(textwrap.dedent(text)).config
    assert [p.pid for p in config.projects] == ["app", "web"]
    assert config.projects[1].agent == "codex"


# --------------------------------------------------------------------------- reactions


def test_reactions_merge_key_by_key_with_global_and_project_overrides() -> None:
    text = """
    reactions:
      ci-failed:
        retries: 5
      agent-stuck:
        threshold: 15m
    projects:
      - name: app
        path: .
        reactions:
          ci-failed:
            escalate_after: 2h
          approved-and-green:
            action: auto_merge
      - name: web
        path: ./web
    """
    config = load_config_text(textwrap.dedent(text)).config
    assert config.reactions["ci-failed"].retries == 5
    assert config.reactions["ci-failed"].escalate_after == timedelta(minutes=30)
    assert config.reactions["ci-failed"].action == "send_to_agent"
    assert config.reactions["agent-stuck"].threshold == timedelta(minutes=15)
    assert config.reactions["bugbot-comments"] == DEFAULT_REACTIONS["bugbot-comments"]
    app = config.reactions_for("app")
    assert app["ci-failed"].retries == 5
    assert app["ci-failed"].escalate_after == timedelta(hours=2)
    assert app["approved-and-green"].action == "auto_merge"
    web = config.reactions_for("web")
    assert web["approved-and-green"].action == "notify"
    assert web["ci-failed"] == config.reactions["ci-failed"]


def test_a_full_github_project() -> None:
    text = """
    projects:
      - name: app
        path: .
        repo: acme/app
        scm:
          provider: github
          token: ${GITHUB_TOKEN}
          merge_method: rebase
    """
    config = load_config_text(textwrap.dedent(text), env={"GITHUB_TOKEN": "ghp_x"}).config
    scm = config.projects[0].scm
    assert isinstance(scm, GitHubSCMConfig)
    assert scm.token is not None and scm.token.get_secret_value() == "ghp_x"
    assert "ghp_x" not in repr(config)


# --------------------------------------------------------------------------- storage settings


def test_storage_settings_match_the_full_loader(tmp_path: Path) -> None:
    path = write(
        tmp_path / "ennio.yaml",
        """
        database_url: ${DB:-postgresql://ennio@127.0.0.1/ennio}
        data_dir: ./data
        projects:
          - name: app
            path: .
        """,
    )
    fast = load_storage_settings(path, env={})
    full = load_config(path, env={}).config
    assert full.database_url is not None and fast.database_url == full.database_url.get_secret_value()
    assert fast.data_dir == full.data_dir == tmp_path / "data"
    assert fast.path == path


def test_storage_settings_defaults_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_storage_settings() == type(load_storage_settings())(None, None, None)
    path = write(tmp_path / "ennio.yaml", "data_dir: ~/ennio-data\n")
    assert load_storage_settings(path).data_dir == Path.home() / "ennio-data"
    write(tmp_path / "ennio.yaml", "projects: []\ndatabase_url: [1]\n")
    with pytest.raises(ConfigError, match=r"ennio.yaml:2: database_url: must be text, not list"):
        load_storage_settings(path)


@pytest.mark.parametrize(
    ("text", "parses_yaml"),
    [
        (MINIMAL, False),
        ("# data_dir: /commented/out\n" + MINIMAL, False),
        ("data_dir: ./d\n" + MINIMAL, True),
    ],
)
def test_storage_settings_stay_cheap(tmp_path: Path, text: str, parses_yaml: bool) -> None:
    """The fast path exists for start-up time: no config models, and no YAML unless a storage key is set."""
    path = write(tmp_path / "ennio.yaml", text)
    code = (
        "import sys; from pathlib import Path; from ennio.services.config.loader import load_storage_settings; "
        f"s = load_storage_settings(Path({str(path)!r})); "
        "print('pydantic' in sys.modules, 'yaml.constructor' in sys.modules, s.data_dir is not None)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", str(parses_yaml), str(parses_yaml)]


# --------------------------------------------------------------------------- no input crashes the loader


def _load_or_config_error(text: str, env: dict[str, str] | None = None) -> None:
    try:
        load_config_text(text, env=env or {})
    except ConfigError as exc:
        assert exc.message.startswith("ennio.yaml")
        assert exc.problems
        assert all(problem.startswith("ennio.yaml") for problem in exc.problems)


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(st.text(max_size=300))
@example("a: &x [*x]")
@example("? [a, b]\n: c")
@example("!!binary x: 1")
@example("a: !!timestamp 2020-13-45")
@example("server: {port: !!float nan}")
@example("projects: [{name: a, path: ., post_create: [[]]}]")
@example("[" * 200 + "]" * 200)
@example("data_dir: \x00")
@example('projects: [{name: a, path: "\\0"}]')
def test_no_text_crashes_the_loader(text: str) -> None:
    _load_or_config_error(text)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["github", "local", "linear", "slack", "desktop", "~", "${X}", "${X:-1}", "5m", "-x", "..", "*"]),
)
nested = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)


@PROPERTY_SETTINGS
@given(nested)
def test_no_nested_data_crashes_the_loader(data: object) -> None:
    _load_or_config_error(yaml.safe_dump(data))


KEYS = [
    "server", "host", "port", "api_token", "cors_origins", "database_url", "nats_url", "data_dir", "defaults",
    "agent", "runtime", "workspace", "notifiers", "lifecycle", "poll_interval", "projects", "name", "id", "repo",
    "path", "default_branch", "session_prefix", "tracker", "scm", "provider", "token", "app", "post_create",
    "symlinks", "copy_files", "agent_config", "permissions", "env", "command", "max_sessions", "reactions",
    "ci-failed", "agent-stuck", "retries", "escalate_after", "threshold", "action", "notification_routing",
    "priorities", "events", "urgent", "ci.*", "type", "url", "budgets", "daily_usd", "warn_at", "ssh",
]  # fmt: skip
shaped = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    max_leaves=30,
)


@PROPERTY_SETTINGS
@given(st.dictionaries(st.sampled_from(KEYS), shaped, max_size=6), st.dictionaries(st.just("X"), st.text(max_size=5)))
def test_no_schema_shaped_data_crashes_the_loader(data: dict[str, object], env: dict[str, str]) -> None:
    _load_or_config_error(yaml.safe_dump(data), env)


@PROPERTY_SETTINGS
@given(
    st.lists(
        st.fixed_dictionaries(
            {"name": st.text(max_size=8), "path": st.text(max_size=8)},
            optional={
                "id": st.text(max_size=8),
                "session_prefix": st.text(max_size=8),
                "default_branch": st.text(max_size=12),
                "tracker": st.fixed_dictionaries({"provider": st.sampled_from(["github", "linear", "local", "x"])}),
                "scm": st.fixed_dictionaries({"provider": st.sampled_from(["github", "local", "githb"])}),
                "post_create": st.lists(st.text(max_size=10), max_size=2),
                "symlinks": st.lists(st.text(max_size=8), max_size=2),
            },
        ),
        max_size=3,
    )
)
def test_no_project_list_crashes_the_loader(projects: list[dict[str, object]]) -> None:
    _load_or_config_error(yaml.safe_dump({"projects": projects}))


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    error = config_error("\n".join(lines) + "\n")
    assert "too many values" in error.message


def test_loader_ignores_the_process_environment_when_given_one() -> None:
    os.environ.setdefault("ENNIO_TEST_ONLY_VAR", "x")
    with pytest.raises(ConfigError, match="ENNIO_TEST_ONLY_VAR is not set"):
        load_config_text("database_url: ${ENNIO_TEST_ONLY_VAR}\n", env={})
