"""Linux's limits on starting a program, as Ennio states them, against the real kernel."""

from __future__ import annotations

import errno
import subprocess

import pytest

from ennio.core.errors import InvalidInput
from ennio.core.exec_limits import (
    ARGUMENT_PROMPT_MAX,
    MAX_ARG_STRLEN,
    TOTAL_MAX,
    check_launch,
    fits_in_argument,
    launch_problems,
)


def test_the_kernel_refuses_exactly_what_is_called_too_long() -> None:
    subprocess.run(["true", "x" * (MAX_ARG_STRLEN - 1)], check=True)
    assert launch_problems(["true", "x" * (MAX_ARG_STRLEN - 1)], {}) == []
    with pytest.raises(OSError) as refused:
        subprocess.run(["true", "x" * MAX_ARG_STRLEN], check=True)
    assert refused.value.errno == errno.E2BIG
    assert launch_problems(["true", "x" * MAX_ARG_STRLEN], {}) == [
        f"argument 1 ('{'x' * 30}'…) is {MAX_ARG_STRLEN:,} bytes"
    ]
    with pytest.raises(OSError) as refused_env:
        subprocess.run(["true"], env={"BIG": "y" * MAX_ARG_STRLEN}, check=True)
    assert refused_env.value.errno == errno.E2BIG


def test_problems_name_the_flag_or_variable_and_the_whole_size() -> None:
    huge = "é" * MAX_ARG_STRLEN  # two bytes each: it is bytes that count
    assert launch_problems(["claude", "--append-system-prompt", huge], {"ENNIO_PROMPT": huge}) == [
        f"the value of --append-system-prompt is {2 * MAX_ARG_STRLEN:,} bytes",
        f"the environment variable ENNIO_PROMPT is {2 * MAX_ARG_STRLEN + len('ENNIO_PROMPT='):,} bytes",
    ]
    many = ["a" * 100_000] * (TOTAL_MAX // 100_000 + 1)
    (problem,) = launch_problems(many, {})
    assert problem.startswith("its command line and environment are")


def test_check_launch_is_one_clear_error() -> None:
    check_launch(["codex", "--", "fix it"], {"A": "b"}, agent="codex")
    with pytest.raises(InvalidInput) as err:
        check_launch(["codex", "-c", "x" * MAX_ARG_STRLEN], {}, agent="codex")
    assert err.value.message.startswith("the codex agent cannot be started with this task: the value of -c is")
    assert err.value.hint


def test_prompts_up_to_the_threshold_travel_as_arguments() -> None:
    assert fits_in_argument("x" * (ARGUMENT_PROMPT_MAX - 1))
    assert not fits_in_argument("x" * ARGUMENT_PROMPT_MAX)
    assert ARGUMENT_PROMPT_MAX + 1000 < MAX_ARG_STRLEN  # room for a flag glued to it (--prompt=…)
