from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from tests.cli.conftest import EnnioRunner

NATS_URL = os.environ.get("ENNIO_TEST_NATS_URL", "nats://127.0.0.1:4222")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def path_with_only(tmp_path: Path, *programs: str) -> str:
    """A PATH holding only ``programs`` (links to the real ones): the others look uninstalled."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for program in programs:
        real = shutil.which(program)
        assert real, f"{program} must be installed for this test"
        (folder / program).symlink_to(real)
    return str(folder)


def by_name(report: dict[str, object]) -> dict[str, dict[str, str]]:
    checks = report["checks"]
    assert isinstance(checks, list)
    return {check["name"]: check for check in checks}


def test_everything_in_order(ennio: EnnioRunner, workdir: Path, data_dir: Path, agent_plugins: dict[str, str]) -> None:
    (workdir / "ennio.yaml").write_text(
        f"nats_url: {NATS_URL}\n"
        "defaults: {agent: git-agent}\n"
        "projects:\n  - name: app\n    path: .\n    tracker: {provider: local}\n    scm: {provider: local}\n"
    )
    result = ennio("doctor", "--json", env=agent_plugins)
    report = result.json()
    checks = by_name(report)
    assert checks["config"]["status"] == "ok"
    assert checks["git"]["status"] == "ok" and checks["git"]["detail"].startswith("git version")
    assert checks["tmux"]["status"] == "ok" and checks["tmux"]["detail"].startswith("tmux")
    assert checks["agent git-agent"] == {
        "name": "agent git-agent",
        "status": "ok",
        "detail": shutil.which("git"),
        "hint": None,
    }
    assert checks["nats"]["status"] == "ok"
    assert checks["nats"]["detail"].startswith(NATS_URL)
    assert checks["database"]["status"] == "ok"
    assert checks["database"]["detail"] == f"SQLite {data_dir / 'ennio.db'} (writable)"
    assert (data_dir / "ennio.db").is_file()
    assert report["ok"] is all(c["status"] != "fail" for c in checks.values())
    assert result.code == (0 if report["ok"] else 1)
    human = ennio("doctor", env=agent_plugins)
    assert human.code == result.code
    assert human.stdout.split()[:2] == ["ok", "config"]


def test_every_failure_says_what_to_do(
    ennio: EnnioRunner, workdir: Path, tmp_path: Path, agent_plugins: dict[str, str]
) -> None:
    (workdir / "ennio.yaml").write_text(
        f"nats_url: nats://127.0.0.1:{closed_port()}\n"
        "defaults: {agent: missing-agent}\n"
        "projects:\n"
        "  - name: app\n    path: .\n    tracker: {provider: github, token: '${GITHUB_TOKEN:-}'}\n"
        "    scm: {provider: local}\n"
        "  - name: web\n    path: ./web\n    agent: git-agent\n"
        "    tracker: {provider: linear, api_key: '${LINEAR_API_KEY:-}'}\n"
        "    scm: {provider: github, token: ghp_present}\n"
    )
    env = {**agent_plugins, "PATH": path_with_only(tmp_path, "git"), "GITHUB_TOKEN": "", "LINEAR_API_KEY": ""}
    result = ennio("doctor", "--json", env=env)
    assert result.code == 1
    report = result.json()
    assert report["ok"] is False
    checks = by_name(report)
    assert checks["tmux"]["status"] == "fail"
    assert "apt-get install tmux" in checks["tmux"]["hint"]
    missing = checks["agent missing-agent"]
    assert missing["status"] == "fail"
    assert missing["detail"] == "ennio-test-no-such-agent-cli is not installed (or not on PATH)"
    assert missing["hint"] == "npm install -g ennio-test-no-such-agent-cli"
    assert checks["agent git-agent"]["status"] == "ok"
    github = checks["app tracker github token"]
    assert (github["status"], github["detail"]) == ("fail", "projects[0].tracker.token is empty")
    assert "GITHUB_TOKEN" in github["hint"]
    linear = checks["web tracker linear token"]
    assert (linear["status"], linear["detail"]) == ("fail", "projects[1].tracker.api_key is empty")
    assert "LINEAR_API_KEY" in linear["hint"]
    assert checks["web scm github token"]["status"] == "ok"
    assert "ghp_present" not in result.stdout
    assert checks["nats"]["status"] == "fail"
    assert "cannot reach" in checks["nats"]["detail"]

    human = ennio("doctor", env=env)
    assert human.code == 1
    fails = [c for c in checks.values() if c["status"] == "fail"]
    assert human.stdout.count("→ ") >= len(fails)
    assert human.stdout.rstrip().endswith(f"{len(fails)} problems to fix")
    assert max(len(line) for line in human.stdout.splitlines()) <= 100


def test_a_broken_config_is_reported_and_the_rest_still_checked(ennio: EnnioRunner, workdir: Path) -> None:
    (workdir / "ennio.yaml").write_text("projects:\n  - name: app\n    path: .\n    scm: {provider: githb}\n")
    result = ennio("doctor", "--json")
    assert result.code == 1
    checks = by_name(result.json())
    assert checks["config"]["status"] == "fail"
    assert "did you mean 'github'?" in checks["config"]["detail"]
    assert checks["git"]["status"] == "ok"


@pytest.mark.parametrize("url", ["nats://user:hunter2@127.0.0.1:{port}"])
def test_nats_passwords_are_not_printed(ennio: EnnioRunner, workdir: Path, url: str) -> None:
    (workdir / "ennio.yaml").write_text(f"nats_url: {url.format(port=closed_port())}\n")
    result = ennio("doctor", "--json")
    assert "hunter2" not in result.stdout
    assert "user:***@127.0.0.1" in by_name(result.json())["nats"]["detail"]


def test_an_unusable_database_fails_with_what_to_do(ennio: EnnioRunner, workdir: Path) -> None:
    (workdir / "blocker").write_text("a file where a folder should be\n")
    (workdir / "ennio.yaml").write_text("data_dir: ./blocker/data\n")
    checks = by_name(ennio("doctor", "--json").json())
    database = checks["database"]
    assert database["status"] == "fail"
    assert "cannot create the data directory" in database["detail"]
    assert database["hint"]
    postgres = "postgresql://nobody:s3cret@127.0.0.1:{port}/ennio"
    (workdir / "ennio.yaml").write_text(f"database_url: {postgres.format(port=closed_port())}\n")
    result = ennio("doctor", "--json")
    database = by_name(result.json())["database"]
    assert database["status"] == "fail"
    assert "nobody:***@127.0.0.1" in database["detail"]
    assert "s3cret" not in result.stdout
