"""``ennio doctor`` on GitHub projects, against the fake GitHub: the budget left (read through ``GET /rate_limit``,
which GitHub does not count), and one clear failure for a bad token or a repository that does not exist."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.cli.conftest import EnnioRunner
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub, github  # noqa: F401  (a fixture)


def write(workdir: Path, github: FakeGitHub, *projects: tuple[str, str, str]) -> None:  # noqa: F811
    document = {
        "projects": [
            {
                "name": name,
                "path": ".",
                "tracker": {"provider": "local"},
                "scm": {"provider": "github", "repo": repo, "token": token, "base_url": github.base},
            }
            for name, repo, token in projects
        ]
    }
    (workdir / "ennio.yaml").write_text(yaml.safe_dump(document))


def checks(ennio: EnnioRunner) -> dict[str, dict[str, str]]:
    report = ennio("doctor", "--json").json()
    return {c["name"]: c for c in report["checks"]}


def test_budget_bad_token_and_missing_repo(ennio: EnnioRunner, workdir: Path, github: FakeGitHub) -> None:  # noqa: F811
    write(
        workdir,
        github,
        ("widgets", REPO, TOKEN),
        ("stolen", REPO, "ghp_revoked_long_ago"),
        ("typo", "acme/widgest", TOKEN),
    )
    github.set_budget(TOKEN, "graphql", remaining=4321)
    found = checks(ennio)

    ok = found["widgets github budget"]
    assert ok["status"] == "ok", ok
    assert ok["detail"].startswith("core 5,000/5,000 left, resets in ")
    assert "graphql 4,321/5,000 left" in ok["detail"]
    bad = found["stolen github budget"]
    assert bad["status"] == "fail"
    assert bad["detail"] == (
        "GitHub rejected the token while reading the rate limit (Bad credentials): it is wrong, expired or revoked"
    )
    assert bad["hint"] and "new token" in bad["hint"]
    missing = found["typo github budget"]
    assert (missing["status"], missing["detail"]) == (
        "fail",
        "GitHub repository acme/widgest not found (or the token cannot see it)",
    )
    # the budget itself was read for free: GET /rate_limit never counts against it
    assert github.count(path="GET /rate_limit") >= 2
    assert github.count(path="GET /rate_limit", counted_only=True) == 0
    assert "ghp_revoked_long_ago" not in str(found)


def test_a_budget_at_the_reserve_is_a_warning(ennio: EnnioRunner, workdir: Path, github: FakeGitHub) -> None:  # noqa: F811
    write(workdir, github, ("widgets", REPO, TOKEN))
    github.set_budget(TOKEN, "core", remaining=150)
    low = checks(ennio)["widgets github budget"]
    assert low["status"] == "warn" and "core 150/5,000 left" in low["detail"]
    assert low["hint"] == "core at or below rate_limit_reserve: polling pauses until the reset"
