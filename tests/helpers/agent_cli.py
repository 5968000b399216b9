"""Running the real agent CLIs in tests: where they are, a private HOME for each pointed at a
:class:`~tests.helpers.model_servers.ModelServer`, and starting an :class:`AgentLaunch` in tmux.

The CLIs live in ``tools/`` (installed by ``scripts/install-tools``): ``claude``, ``codex`` and
``opencode`` in ``tools/node_modules/.bin``, ``aider`` in ``tools/aider-venv/bin``. Each ``prepare_*``
function writes just enough into a temporary HOME that the CLI starts without first-run questions
and talks to the fake server, and returns the environment to run it with.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ennio.core.plugins import AgentLaunch
from tests.helpers.model_servers import CHAT, ModelServer, RecordedRequest, Reply
from tests.helpers.tmux import Pane, TmuxServer

ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = ROOT / "tools" / "node_modules" / ".bin"
AIDER_BIN = ROOT / "tools" / "aider-venv" / "bin"
TOOL_DIRS = (NODE_BIN, AIDER_BIN)

#: Claude Code remembers approved custom API keys by their last 20 characters
CLAUDE_TEST_KEY = "sk-ant-ennio-test-0123456789abcdefghij"


def tool_path() -> str:
    """``PATH`` with the agent CLIs first (and the system's programs after)."""
    system = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    return os.pathsep.join([*(str(d) for d in TOOL_DIRS), system])


def missing_tools() -> list[str]:
    names = {"claude": NODE_BIN, "codex": NODE_BIN, "opencode": NODE_BIN, "aider": AIDER_BIN}
    return [n for n, d in names.items() if not (d / n).exists()]


def base_env(home: Path) -> dict[str, str]:
    """A clean environment for an agent: its own HOME, the tools on PATH, a git identity."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home),
        "PATH": tool_path(),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "GIT_AUTHOR_NAME": "Ennio Test",
        "GIT_AUTHOR_EMAIL": "test@ennio.invalid",
        "GIT_COMMITTER_NAME": "Ennio Test",
        "GIT_COMMITTER_EMAIL": "test@ennio.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def prepare_claude(home: Path, server: ModelServer, trusted: Sequence[Path] = ()) -> dict[str, str]:
    """Claude Code: onboarding done, the test API key approved, ``trusted`` folders accepted."""
    env = base_env(home)
    state = {
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": "2.1.332",
        "theme": "dark",
        "customApiKeyResponses": {"approved": [CLAUDE_TEST_KEY[-20:]], "rejected": []},
        "projects": {str(p): {"hasTrustDialogAccepted": True} for p in trusted},
    }
    (home / ".claude.json").write_text(json.dumps(state))
    env.update(
        ANTHROPIC_BASE_URL=server.url,
        ANTHROPIC_API_KEY=CLAUDE_TEST_KEY,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
    )
    return env


def prepare_codex(home: Path, server: ModelServer, trusted: Sequence[Path] = ()) -> dict[str, str]:
    """Codex: a ``fake`` model provider speaking the Responses API at the server, ``trusted`` folders."""
    env = base_env(home)
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    lines = [
        'model_provider = "fake"',
        'model = "gpt-fake"',
        "[model_providers.fake]",
        'name = "Fake"',
        f'base_url = "{server.v1}"',
        'env_key = "FAKE_OPENAI_KEY"',
        'wire_api = "responses"',
        "[tui]",
        "screen_reader_detection_done = true",
    ]
    for p in trusted:
        lines += [f"[projects.{json.dumps(str(p))}]", 'trust_level = "trusted"']
    (codex_home / "config.toml").write_text("\n".join(lines) + "\n")
    env["FAKE_OPENAI_KEY"] = "sk-fake"
    # Codex names each thread with a side request asking for JSON; answer those apart from the script
    server.rule(lambda r: "codex_output_schema" in r.text(), default=Reply(text='{"title": "Ennio test task"}'))
    return env


def prepare_opencode(home: Path, server: ModelServer) -> dict[str, str]:
    """OpenCode: a ``fake`` provider (OpenAI-compatible Chat Completions) at the server, as the default model."""
    env = base_env(home)
    config_dir = home / ".config" / "opencode"
    config_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False,
        "share": "disabled",
        "provider": {
            "fake": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Fake",
                "options": {"baseURL": server.v1, "apiKey": "sk-fake"},
                "models": {"fake-model": {"name": "Fake Model"}},
            }
        },
        "model": "fake/fake-model",
    }
    (config_dir / "opencode.json").write_text(json.dumps(config, indent=1))
    env.update(OPENCODE_DISABLE_MODELS_FETCH="1", OPENCODE_DISABLE_AUTOUPDATE="1", OPENCODE_DISABLE_LSP_DOWNLOAD="1")
    # OpenCode names each session with a side request; answer those apart from the script
    server.rule(lambda r: "You are a title generator" in r.text(), default=Reply(text="Ennio test task"))
    return env


#: what aider (through litellm's price table) knows about the fake model: it then prints costs, and
#: does not stop on an "unknown model" question
FAKE_MODEL_PRICES = {
    "fake-model": {
        "litellm_provider": "openai",
        "mode": "chat",
        "max_input_tokens": 128000,
        "max_output_tokens": 16384,
        "max_tokens": 16384,
        "input_cost_per_token": 0.000003,
        "output_cost_per_token": 0.000015,
    }
}


def prepare_aider(home: Path, server: ModelServer) -> dict[str, str]:
    """aider: the OpenAI-compatible server as its API base, and a price table that knows the fake model
    (aider's cache of litellm's table, so it never downloads it)."""
    env = base_env(home)
    caches = home / ".aider" / "caches"
    caches.mkdir(parents=True, exist_ok=True)
    (caches / "model_prices_and_context_window.json").write_text(json.dumps(FAKE_MODEL_PRICES))
    env.update(
        OPENAI_API_BASE=server.v1,
        OPENAI_API_KEY="sk-fake",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        AIDER_CHECK_UPDATE="false",
        AIDER_ANALYTICS="false",
    )
    return env


def write_launch_files(launch: AgentLaunch, workspace: Path) -> None:
    """Write ``launch.files`` into the workspace the way the SessionManager does."""
    for rel, content in launch.files.items():
        target = workspace / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)


def start_launch(
    tmux: TmuxServer, launch: AgentLaunch, workspace: Path, env: dict[str, str], *, width: int = 160, height: int = 50
) -> Pane:
    """Run exactly ``launch.argv`` in tmux in ``workspace`` with ``env`` plus ``launch.env``."""
    write_launch_files(launch, workspace)
    return tmux.start(launch.argv, cwd=workspace, env={**env, **launch.env}, width=width, height=height)


def save_fixture(folder: Path, name: str, text: str) -> None:
    """Record a real screen or file as a fixture when ``ENNIO_RECORD_FIXTURES=1``; otherwise do nothing."""
    if os.environ.get("ENNIO_RECORD_FIXTURES") != "1":
        return
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def save_fixture_file(folder: Path, name: str, source: Path) -> None:
    if os.environ.get("ENNIO_RECORD_FIXTURES") != "1":
        return
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


# ---------------------------------------------------------------------- aider end to end

#: agent settings that make aider talk to the fake server and apply whole-file edits
AIDER_TEST_MODEL = "openai/fake-model"
AIDER_TEST_PASSTHROUGH = ["--edit-format", "whole"]


def is_aider_commit_message_request(request: RecordedRequest) -> bool:
    return request.api == CHAT and "one-line Git commit messages" in request.text()


def whole_file_edit(path: str, content: str, text: str = "Here is the updated file.", **reply: Any) -> Reply:
    """A reply in aider's ``whole`` edit format: some text, then the file name and its full new content."""
    body = content if content.endswith("\n") else content + "\n"
    return Reply(text=f"{text}\n\n{path}\n```\n{body}```\n", **reply)


def script_aider_edit(
    server: ModelServer, path: str, content: str, *, commit_message: str = "Fix the task", **reply: Any
) -> Reply:
    """Script one aider turn that rewrites ``path`` with ``content``, and the commit message aider asks for.

    Returns the edit reply (pass ``hold=threading.Event()`` to keep aider "working" until it is set).
    """
    edit = whole_file_edit(path, content, **reply)
    server.rule(is_aider_commit_message_request, default=Reply(text=commit_message))
    server.script(edit)
    return edit
