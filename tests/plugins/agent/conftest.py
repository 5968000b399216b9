"""Fixtures for the agent plugin tests: contexts, a private tmux server, a fake model server, and the
recorded screens/session files under ``fixtures/<agent>/``."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ennio.core.clock import ManualClock
from ennio.core.config import AgentConfig, ProjectConfig
from ennio.core.plugins import ActivityProbe, Agent, AgentContext, PluginContext
from ennio.core.session import ActivityState
from tests.helpers.agent_cli import missing_tools, save_fixture, save_fixture_file, tool_path
from tests.helpers.model_servers import ModelServer
from tests.helpers.tmux import Pane, TmuxServer
from tests.helpers.wait import wait_for

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _agent_clis_on_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real agent CLIs from ``tools/`` come first on PATH, as ``scripts/install-tools`` leaves them.

    Tests marked ``agents`` never skip: without the CLIs they fail, saying how to install them.
    """
    monkeypatch.setenv("PATH", tool_path())
    if request.node.get_closest_marker("agents") and (missing := missing_tools()):
        pytest.fail(f"agent CLIs not installed: {', '.join(missing)}; run scripts/install-tools", pytrace=False)


@pytest.fixture
def plugin_ctx(tmp_path: Path) -> PluginContext:
    return PluginContext(data_dir=tmp_path / "data", clock=ManualClock())


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[TmuxServer]:
    server = TmuxServer(tmp_path)
    yield server
    server.kill()


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server


@pytest.fixture
def workspace(git_repo: Callable[..., Path]) -> Path:
    """A real git repository to run the agent in (resolved, as the agents see their cwd)."""
    return git_repo("workspace", files={"README.md": "# demo\n", "calc.py": "def add(a, b):\n    return 0\n"}).resolve()


@pytest.fixture
def agent_ctx(workspace: Path) -> Callable[..., AgentContext]:
    """Factory: an AgentContext for ``workspace`` with the given agent settings."""

    def make(
        prompt: str = "Fix add() in calc.py", *, rules: str | None = None, resume_id: str | None = None, **config: Any
    ) -> AgentContext:
        project = ProjectConfig(name="demo", path=workspace)
        return AgentContext(
            session_id="demo-1",
            project=project,
            workspace_path=workspace,
            prompt=prompt,
            config=AgentConfig(**config),
            rules=rules,
            resume_id=resume_id,
        )

    return make


def live_probe(
    pane: Pane, workspace: Path, home: Path, resume_id: str | None = None, started_at: datetime | None = None
) -> ActivityProbe:
    now = datetime.now(UTC)
    return ActivityProbe(
        workspace_path=workspace,
        screen=pane.screen(),
        alive=pane.alive(),
        started_at=started_at or now - timedelta(minutes=1),
        now=now,
        home=home,
        resume_id=resume_id,
    )


def wait_state(
    agent: Agent,
    pane: Pane,
    workspace: Path,
    home: Path,
    want: ActivityState,
    *,
    resume_id: str | None = None,
    timeout: float = 90,
) -> None:
    """Wait until the agent's detector reads ``want`` on the live pane; on timeout show the screen and reading."""
    last: list[str] = [""]

    def check() -> bool:
        reading = agent.detect_activity(live_probe(pane, workspace, home, resume_id))
        last[0] = f"{reading.state} ({reading.detail})"
        return reading.state is want

    try:
        wait_for(check, timeout=timeout, interval=0.3, what=f"{want}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last reading {last[0]}\n--- screen ---\n{pane.screen()}") from None


@dataclass
class Recorder:
    """Saves real screens and session files as fixtures (only with ``ENNIO_RECORD_FIXTURES=1``).

    A scenario ``NAME`` is ``NAME.screen.txt`` plus, when files are given, ``NAME/home/...`` (copies of
    the agent's files relative to its HOME), ``NAME/workspace/...`` and ``NAME/meta.json`` (the
    workspace path, resume id and the time of the recording).
    """

    folder: Path

    def screen(self, name: str, text: str) -> None:
        save_fixture(self.folder, f"{name}.screen.txt", text)

    def files(
        self,
        name: str,
        *,
        home: Path,
        workspace: Path,
        home_files: list[Path] = (),  # type: ignore[assignment]
        workspace_files: list[Path] = (),  # type: ignore[assignment]
        resume_id: str | None = None,
        drop_types: frozenset[str] = frozenset(),
    ) -> None:
        """``drop_types``: JSONL entry types left out of copied transcripts (bulky request/context dumps)."""
        for f in home_files:
            if drop_types and f.suffix == ".jsonl":
                kept = [line for line in f.read_text().splitlines(keepends=True) if _entry_type(line) not in drop_types]
                save_fixture(self.folder, f"{name}/home/{f.relative_to(home)}", "".join(kept))
            else:
                save_fixture_file(self.folder, f"{name}/home/{f.relative_to(home)}", f)
        for f in workspace_files:
            save_fixture_file(self.folder, f"{name}/workspace/{f.relative_to(workspace)}", f)
        meta = {"workspace": str(workspace), "resume_id": resume_id, "recorded_at": datetime.now(UTC).isoformat()}
        save_fixture(self.folder, f"{name}/meta.json", json.dumps(meta, indent=1) + "\n")


def _entry_type(line: str) -> str | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry.get("type") if isinstance(entry, dict) else None


def recorder(agent: str) -> Recorder:
    return Recorder(FIXTURES / agent)


@dataclass
class Scenario:
    """A recorded scenario copied into a temporary folder, ready to probe."""

    screen: str
    home: Path
    workspace: Path
    resume_id: str | None
    recorded_at: datetime | None

    def probe(
        self, *, alive: bool = True, after: timedelta = timedelta(seconds=5), resume_id: str | None = "meta"
    ) -> ActivityProbe:
        """A probe as if taken ``after`` the recording."""
        base = self.recorded_at or datetime.now(UTC)
        return ActivityProbe(
            workspace_path=self.workspace,
            screen=self.screen,
            alive=alive,
            started_at=base - timedelta(minutes=2),
            now=base + after,
            home=self.home,
            resume_id=self.resume_id if resume_id == "meta" else resume_id,
        )


def load_scenario(agent: str, name: str, tmp_path: Path) -> Scenario:
    folder = FIXTURES / agent
    screen = (folder / f"{name}.screen.txt").read_text()
    meta_path = folder / name / "meta.json"
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    if not meta_path.exists():
        return Scenario(screen, home, tmp_path / "workspace", None, None)
    meta = json.loads(meta_path.read_text())
    if (folder / name / "home").is_dir():
        shutil.copytree(folder / name / "home", home, dirs_exist_ok=True)
        for dump in home.rglob("*.db.sql"):  # databases are recorded as SQL text
            with closing(sqlite3.connect(dump.with_suffix(""))) as db:
                db.executescript(dump.read_text())
            dump.unlink()
    workspace = Path(meta["workspace"])
    if (folder / name / "workspace").is_dir():
        # files that live in the workspace (aider's history) are probed in a copy at a temporary path
        workspace = tmp_path / "workspace"
        shutil.copytree(folder / name / "workspace", workspace, dirs_exist_ok=True)
    recorded = datetime.fromisoformat(meta["recorded_at"]) if meta.get("recorded_at") else None
    return Scenario(screen, home, workspace, meta.get("resume_id"), recorded)
