"""Global behaviour of the ``ennio`` console script: options, exit codes, error reporting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ennio import __version__
from tests.cli.conftest import ENNIO, EnnioRunner


def test_console_script_is_installed() -> None:
    assert ENNIO.is_file()


def test_version(ennio: EnnioRunner) -> None:
    result = ennio("--version")
    assert (result.code, result.stdout, result.stderr) == (0, f"ennio {__version__}\n", "")


@pytest.mark.parametrize("args", [["--help"], ["-h"], []])
def test_help_lists_the_commands(ennio: EnnioRunner, args: list[str]) -> None:
    result = ennio(*args)
    assert result.code == 0
    for command in ("init", "status", "events", "doctor", "config", "session", "plugins", "issue", "pr", "review"):
        assert f"  {command}" in result.stdout
    assert "-c, --config" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 100


@pytest.mark.parametrize("group", ["config", "session", "plugins", "issue", "pr", "review"])
def test_a_bare_group_prints_its_help(ennio: EnnioRunner, group: str) -> None:
    result = ennio(group)
    assert result.code == 0
    assert result.stdout.startswith(f"Usage: ennio {group} [OPTIONS] COMMAND")


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["frobnicate"], "error: No such command 'frobnicate'.", "hint: run `ennio --help` to see the usage"),
        (["status", "--colour"], "error: No such option: --colour", "hint: run `ennio status --help` to see the usage"),
        (["-c"], "error: Option '-c' requires an argument.", "hint: run `ennio --help` to see the usage"),
        (
            ["config", "valdate"],
            "error: No such command 'valdate'. Did you mean 'validate'?",
            "hint: run `ennio config --help` to see the usage",
        ),
    ],
)
def test_usage_errors_are_two_lines_and_exit_2(ennio: EnnioRunner, args: list[str], message: str, hint: str) -> None:
    result = ennio(*args)
    assert result.code == 2
    assert result.stderr.splitlines() == [message, hint]
    assert result.stdout == ""


def test_ennio_errors_are_one_short_block_with_their_exit_code(ennio: EnnioRunner, workdir: Path) -> None:
    (workdir / "ennio.yaml").write_text("{}\n")
    result = ennio("init")
    assert result.code == 4  # Conflict
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: {workdir / 'ennio.yaml'} already exists"
    assert lines[1].startswith("hint: ") and "--force" in lines[1]
    assert len(lines) == 2
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(ennio: EnnioRunner, workdir: Path) -> None:
    (workdir / "ennio.yaml").write_text("{}\n")
    result = ennio("--debug", "init")
    assert result.code == 4
    assert "Traceback (most recent call last)" in result.stderr
    assert "ennio.core.errors.Conflict" in result.stderr
    assert result.stderr.splitlines()[-2].startswith("error: ")


def test_missing_config_file_given_with_dash_c(ennio: EnnioRunner, workdir: Path) -> None:
    result = ennio("-c", "nope.yaml", "config", "validate")
    assert result.code == 2
    assert result.stderr.splitlines() == [
        "error: nope.yaml: file not found",
        "hint: run `ennio init` to write a starter configuration",
    ]


_EXPLODING_APP = """
import sys
from ennio.cli.main import build_app, run

app = build_app()

@app.command("explode")
def explode() -> None:
    raise ZeroDivisionError("the flux capacitor divided by zero")

run(sys.argv[1:], app)
"""


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_exception_is_reported_as_a_bug(debug: bool, tmp_path: Path) -> None:
    """A failure that is not an EnnioError: one line that says it is a bug (the command is a test fixture)."""
    args = ["--debug", "explode"] if debug else ["explode"]
    done = subprocess.run(
        [sys.executable, "-c", _EXPLODING_APP, *args], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 70
    last = done.stderr.splitlines()[-1]
    assert last.startswith("error: unexpected ZeroDivisionError")
    assert "bug in Ennio" in last
    if debug:
        assert "Traceback (most recent call last)" in done.stderr
    else:
        assert done.stderr.splitlines() == [
            "error: unexpected ZeroDivisionError: the flux capacitor divided by zero — "
            "this is a bug in Ennio; rerun with --debug"
        ]


def test_a_closed_stdout_pipe_is_not_an_error(workdir: Path) -> None:
    """`ennio config schema | head -1` must not end in a BrokenPipeError traceback."""
    proc = subprocess.Popen(
        f"{ENNIO} config schema | head -c 10", shell=True, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = proc.communicate(timeout=60)
    assert out == b'{\n  "$sche'
    assert b"Traceback" not in err
    assert b"Error" not in err
