"""What Linux lets a program be started with, checked before Ennio starts an agent.

``execve`` refuses (``E2BIG``) any single argument or ``NAME=value`` environment string longer than
``MAX_ARG_STRLEN`` — 32 pages, 131,072 bytes with its closing NUL — and all of them together beyond
``ARG_MAX``. A refused exec kills the agent before it starts (its terminal shows status 127) while the
spawn looks fine, so every launch is checked first: a prompt over :data:`ARGUMENT_PROMPT_MAX` goes
through a file where the agent can take it so, and what cannot be delivered is refused with a clear
error before anything is made. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ennio.core.errors import InvalidInput

#: Linux's limit on one argument or environment string, its NUL included
MAX_ARG_STRLEN = 32 * 4096
#: a prompt longer than this (UTF-8 bytes) does not travel as an argument (room left for flags around it)
ARGUMENT_PROMPT_MAX = 100_000
#: Ennio's allowance for a launch's arguments and environment together, well inside Linux's ``ARG_MAX``
#: (2 MiB with the usual 8 MiB stack), leaving room for the environment the agent inherits
TOTAL_MAX = 1024 * 1024


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape")) + 1


def fits_in_argument(prompt: str) -> bool:
    """Whether ``prompt`` may be given to an agent as (part of) one command-line argument."""
    return _size(prompt) <= ARGUMENT_PROMPT_MAX


def launch_problems(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """What in ``argv`` and ``env`` the kernel would refuse to start a program with (empty: it fits)."""
    problems: list[str] = []
    for i, arg in enumerate(argv):
        size = _size(arg)
        if size > MAX_ARG_STRLEN:
            flag = argv[i - 1] if i > 0 and argv[i - 1].startswith("-") else None
            named = f"the value of {flag}" if flag else f"argument {i} ({arg[:30]!r}…)"
            problems.append(f"{named} is {size - 1:,} bytes")
    for name, value in env.items():
        size = _size(f"{name}={value}")
        if size > MAX_ARG_STRLEN:
            problems.append(f"the environment variable {name} is {size - 1:,} bytes")
    total = sum(_size(a) for a in argv) + sum(_size(f"{k}={v}") for k, v in env.items())
    if not problems and total > TOTAL_MAX:
        problems.append(f"its command line and environment are {total:,} bytes together")
    return problems


def check_launch(argv: Sequence[str], env: Mapping[str, str], *, agent: str) -> None:
    """Raise ``InvalidInput`` when the agent could not be started with ``argv`` and ``env``."""
    problems = launch_problems(argv, env)
    if problems:
        raise InvalidInput(
            f"the {agent} agent cannot be started with this task: {'; '.join(problems)} "
            f"(Linux allows {MAX_ARG_STRLEN - 1:,} bytes per argument or environment variable)",
            hint="shorten the prompt or the project rules, or use an agent that reads its prompt from a file "
            "or its input (the script agent: {prompt_file} or stdin rather than {prompt})",
        )
