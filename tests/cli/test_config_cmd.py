from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import EnnioRunner

BAD = """\
sever:
  port: 1
projects:
  - name: app
    path: .
    scm:
      provider: githb
"""


def test_validate_a_good_file(ennio: EnnioRunner, workdir: Path) -> None:
    (workdir / "ennio.yaml").write_text("projects:\n  - name: app\n    path: .\n")
    (workdir / "src").mkdir()
    result = ennio("config", "validate", cwd=workdir / "src")
    assert result.code == 0
    assert result.stdout == f"{workdir / 'ennio.yaml'}: valid (1 project)\n"
    data = ennio("config", "validate", "--json").json()
    assert data == {"file": str(workdir / "ennio.yaml"), "valid": True, "problems": [], "projects": ["app"]}


def test_validate_lists_every_problem_one_per_line(ennio: EnnioRunner, workdir: Path) -> None:
    (workdir / "ennio.yaml").write_text(BAD)
    result = ennio("config", "validate")
    assert result.code == 2
    assert result.stdout.splitlines() == [
        f"{workdir / 'ennio.yaml'}:1: sever: unknown key 'sever' — did you mean 'server'?",
        f"{workdir / 'ennio.yaml'}:7: projects[0].scm.provider: unknown 'githb' — did you mean 'github'?",
    ]
    assert result.stderr == f"2 problems in {workdir / 'ennio.yaml'}\n"
    data = ennio("config", "validate", "--json").json()
    assert data["valid"] is False
    assert data["problems"] == result.stdout.splitlines()


def test_validate_with_dash_c_and_env(ennio: EnnioRunner, tmp_path: Path) -> None:
    config = tmp_path / "team.yml"
    config.write_text("database_url: ${ENNIO_TEST_DB}\n")
    missing = ennio("-c", str(config), "config", "validate")
    assert missing.code == 2
    assert missing.stdout == f"{config}:1: database_url: environment variable ENNIO_TEST_DB is not set\n"
    assert ennio("-c", str(config), "config", "validate", env={"ENNIO_TEST_DB": "sqlite:///x"}).code == 0
    assert ennio("config", "validate", env={"ENNIO_CONFIG": str(config), "ENNIO_TEST_DB": "x"}).code == 0


def test_validate_without_a_file(ennio: EnnioRunner) -> None:
    result = ennio("config", "validate")
    assert result.code == 2
    assert result.stderr.splitlines()[0].startswith("error: no configuration file found")
    assert result.stderr.splitlines()[1] == "hint: run `ennio init` to write one, or pass -c PATH"


def test_invalid_yaml_is_one_problem(ennio: EnnioRunner, workdir: Path) -> None:
    (workdir / "ennio.yaml").write_text("projects: [\n")
    result = ennio("config", "validate")
    assert result.code == 2
    assert result.stdout.startswith(f"{workdir / 'ennio.yaml'}:2: invalid YAML:")
    assert "Traceback" not in result.stdout + result.stderr


def test_schema_is_json_schema_of_the_config(ennio: EnnioRunner) -> None:
    result = ennio("config", "schema")
    assert result.code == 0
    schema = result.json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "EnnioConfig"
    assert {"server", "projects", "reactions", "budgets"} <= set(schema["properties"])
    assert "ProjectConfig" in schema["$defs"]
