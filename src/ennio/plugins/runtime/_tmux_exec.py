"""Exec wrapper the tmux runtime runs as the pane's program (``python -I -S _tmux_exec.py SPEC``).

It reads the launch spec (argv, environment, folder) from a private file, deletes the file, and
replaces itself with the agent. So the agent's command line and environment reach it exactly,
never through a shell or tmux's own parsing, and secrets never show in any process's argv or in
``tmux show-environment``. Standard library only: it runs before anything else is importable.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys


def main(spec_path: str) -> int:
    try:
        with open(spec_path, encoding="utf-8") as fh:
            spec = json.load(fh)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(spec_path)
    argv: list[str] = spec["argv"]
    env = dict(os.environ)
    env.update(spec["env"])
    try:
        os.chdir(spec["cwd"])
        os.execvpe(argv[0], argv, env)  # noqa: S606 - exec without a shell is the point
    except OSError as exc:
        sys.stderr.write(f"ennio: cannot run {argv[0]!r}: {exc.strerror or exc}\n")
    return 127


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
