"""The spawn queue against the fake GitHub (schema-checked) and the fake Linear: a blocked issue is refused
(or queued with ``--when-unblocked``), and released once its blockers are closed or their sessions' PRs merge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ennio.core.errors import Conflict, InvalidId
from ennio.core.events import EventType
from ennio.core.session import Session, SessionStatus
from ennio.db.records import QueuedSpawn, QueueStatus
from ennio.db.schema import spawn_queue
from ennio.services.forge.blockers import Blocked
from ennio.services.stack import Services
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub
from tests.helpers.linear_api import FakeLinear, LinearServer, linear_server_fixture  # noqa: F401  (a fixture)
from tests.helpers.sessions import make_session
from tests.helpers.sessions_env import leftovers, make_config, services

Q = QueueStatus


@pytest.fixture
async def gh_stack(tmux_socket: str, data_dir: Path, repo: Path, github: FakeGitHub) -> AsyncIterator[Services]:
    tracker = {"provider": "github", "repo": REPO, "token": TOKEN, "base_url": github.base}
    async with services(make_config(data_dir, repo, tracker=tracker)) as stack:
        yield stack


async def logged(stack: Services, kind: EventType) -> list[dict[str, Any]]:
    await stack.events.flush()
    return [e.event.data for e in await stack.db.events.query(types=[kind], limit=100)]


async def test_a_blocked_issue_is_refused_naming_its_blockers_and_nothing_is_made(
    gh_stack: Services, github: FakeGitHub, repo: Path, tmux_socket: str
) -> None:
    first = github.add_issue(REPO, "Schema")
    second = github.add_issue(REPO, "API", f"Needs the schema.\n\nBlocked by #{first.number}")
    with pytest.raises(Blocked) as info:
        await gh_stack.sessions.spawn("app", issue=f"#{second.number}")
    assert info.value.message == (
        f"issue #{second.number} of project 'app' is blocked by #{first.number} (it is not finished yet)"
    )
    assert info.value.hint is not None and "--when-unblocked" in info.value.hint
    assert isinstance(info.value, Conflict)
    assert (await leftovers(gh_stack, repo, tmux_socket)).empty()
    assert await gh_stack.db.queue.list() == []


async def test_queued_until_the_blocker_closes_then_spawned_from_the_issue(
    gh_stack: Services, github: FakeGitHub
) -> None:
    first = github.add_issue(REPO, "Schema")
    second = github.add_issue(REPO, "Add the API", f"- [ ] #{first.number} first")
    queued = await gh_stack.sessions.spawn_or_queue("app", issue=f"{REPO}#{second.number}", prompt="Be brief.")
    assert isinstance(queued, QueuedSpawn)
    assert (queued.status, queued.issue_id, queued.blockers) == (Q.WAITING, str(second.number), [str(first.number)])
    assert queued.request["prompt"] == "Be brief."
    assert (await logged(gh_stack, EventType.SPAWN_QUEUED))[0]["queue_id"] == queued.qid

    assert await gh_stack.sessions.queue.process() == []  # still blocked
    github.repo(REPO).issues[first.number].state = "closed"
    released = await gh_stack.sessions.queue.process()
    assert [q.id for q in released] == [queued.id]
    await gh_stack.sessions.queue.wait_idle()

    done = await gh_stack.db.queue.get(queued.id)
    assert done.status is Q.SPAWNED and done.session_id is not None
    session = await gh_stack.sessions.get(done.session_id)
    assert session.issue_id == str(second.number) and session.status is SessionStatus.WORKING
    assert session.branch is not None and session.branch.startswith(f"feat/{second.number}-add-the-api")
    assert session.prompt is not None and "Add the API" in session.prompt and "Be brief." in session.prompt
    assert await gh_stack.sessions.queue.process() == []  # never twice


async def test_a_blocker_whose_session_merged_counts_as_finished(gh_stack: Services, github: FakeGitHub) -> None:
    first = github.add_issue(REPO, "Schema")
    second = github.add_issue(REPO, "API", f"Depends on #{first.number}")
    queued = await gh_stack.sessions.spawn_or_queue("app", issue=str(second.number))
    assert isinstance(queued, QueuedSpawn)
    await gh_stack.db.sessions.insert(
        make_session("app-7", "app", status=SessionStatus.APPROVED, issue_id=str(first.number))
    )
    assert await gh_stack.sessions.queue.process() == []
    await gh_stack.db.sessions.transition("app-7", SessionStatus.MERGED, "PR merged")
    assert [q.id for q in await gh_stack.sessions.queue.process()] == [queued.id]
    await gh_stack.sessions.queue.wait_idle()
    assert (await gh_stack.db.queue.get(queued.id)).status is Q.SPAWNED


async def test_cancel_and_a_closed_queued_issue(gh_stack: Services, github: FakeGitHub) -> None:
    blocker = github.add_issue(REPO, "Schema")
    one = github.add_issue(REPO, "One", f"blocked by #{blocker.number}")
    two = github.add_issue(REPO, "Two", f"blocked by #{blocker.number}")
    q1 = await gh_stack.sessions.spawn_or_queue("app", issue=str(one.number))
    q2 = await gh_stack.sessions.spawn_or_queue("app", issue=str(two.number))
    assert isinstance(q1, QueuedSpawn) and isinstance(q2, QueuedSpawn)
    with pytest.raises(Conflict, match=f"already queued as {q1.qid}"):
        await gh_stack.sessions.spawn_or_queue("app", issue=f"#{one.number}")

    cancelled = await gh_stack.sessions.cancel_queued(q1.qid)
    assert cancelled.status is Q.CANCELLED
    with pytest.raises(Conflict, match="is cancelled"):
        await gh_stack.sessions.cancel_queued(q1.qid)
    with pytest.raises(InvalidId):
        await gh_stack.sessions.cancel_queued("1; rm -rf /")

    github.repo(REPO).issues[two.number].state = "closed"
    assert await gh_stack.sessions.queue.process() == []
    gone = await gh_stack.db.queue.get(q2.id)
    assert gone.status is Q.CANCELLED and gone.reason == f"issue #{two.number} was closed"
    assert [q.qid for q in await gh_stack.sessions.queued(open_only=True)] == []
    assert {d["queue_id"] for d in await logged(gh_stack, EventType.SPAWN_CANCELLED)} == {q1.qid, q2.qid}


async def test_a_released_spawn_that_fails_is_recorded_and_a_person_is_told(
    gh_stack: Services, github: FakeGitHub, repo: Path
) -> None:
    blocker = github.add_issue(REPO, "Schema")
    blocked = github.add_issue(REPO, "API", f"blocked by #{blocker.number}")
    queued = await gh_stack.sessions.spawn_or_queue("app", issue=str(blocked.number), branch="taken")
    assert isinstance(queued, QueuedSpawn)
    from tests.helpers.git import git

    git(repo, "branch", "taken")  # the spawn will refuse to reuse it
    github.repo(REPO).issues[blocker.number].state = "closed"
    await gh_stack.sessions.queue.process()
    await gh_stack.sessions.queue.wait_idle()
    failed = await gh_stack.db.queue.get(queued.id)
    assert failed.status is Q.FAILED and failed.reason is not None and "taken" in failed.reason
    [event] = await logged(gh_stack, EventType.SPAWN_FAILED)
    assert event["queue_id"] == queued.qid and "taken" in event["error"]


async def test_an_interrupted_spawn_goes_back_to_the_queue(gh_stack: Services, github: FakeGitHub) -> None:
    blocker = github.add_issue(REPO, "Schema", state="closed")
    blocked = github.add_issue(REPO, "API", f"blocked by #{blocker.number}")
    queued = await gh_stack.db.queue.add(
        "app", issue_id=str(blocked.number), issue_ref=str(blocked.number), blockers=[str(blocker.number)], request={}
    )
    assert await gh_stack.db.queue.claim(queued.id)  # a daemon claimed it, then died
    await gh_stack.sessions.queue.process()  # recently claimed: left to its spawner
    assert (await gh_stack.db.queue.get(queued.id)).status is Q.SPAWNING
    async with gh_stack.db.engine.begin() as conn:
        long_ago = datetime.now(UTC) - timedelta(hours=1)
        await conn.execute(spawn_queue.update().values(updated_at=long_ago))
    await gh_stack.sessions.queue.process()  # stale, and no session was made for it: back to waiting
    assert (await gh_stack.db.queue.get(queued.id)).status is Q.WAITING
    assert len(await gh_stack.sessions.queue.process()) == 1
    await gh_stack.sessions.queue.wait_idle()
    assert (await gh_stack.db.queue.get(queued.id)).status is Q.SPAWNED


# --------------------------------------------------------------------------- issue references


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("ENG-12", "'ENG-12' is a Linear issue, but project 'app' tracks its issues on GitHub"),
        ("https://linear.app/acme/issue/ENG-12/x", "is a Linear issue, but project 'app' tracks its issues on GitHub"),
        (
            "other/repo#3",
            "'other/repo#3' is an issue of other/repo, but project 'app' tracks the issues of acme/widgets",
        ),
        (
            "https://ghe.example.com/acme/widgets/issues/3",
            "is on ghe.example.com, but project 'app' uses the GitHub at",
        ),
        ("https://github.com/acme/widgets/pull/3", "is a pull request, not an issue"),
        ("#0", "is not an issue reference"),
    ],
)
async def test_references_that_do_not_fit_the_github_tracker_are_clear_errors(
    gh_stack: Services, repo: Path, tmux_socket: str, ref: str, message: str
) -> None:
    with pytest.raises(Exception) as info:
        await gh_stack.sessions.spawn("app", issue=ref)
    assert message in getattr(info.value, "message", str(info.value))
    assert (await leftovers(gh_stack, repo, tmux_socket)).empty()


async def test_every_github_form_reaches_the_same_issue(gh_stack: Services, github: FakeGitHub) -> None:
    issue = github.add_issue(REPO, "Add login")
    forms = [
        f"{issue.number}",
        f"{REPO}#{issue.number}",
        f"{github.base}/{REPO}/issues/{issue.number}",
    ]
    made: list[Session] = []
    for i, form in enumerate(forms):
        session = await gh_stack.sessions.spawn("app", issue=form, branch=f"feat/{issue.number}-form-{i}")
        made.append(session)
    assert {s.issue_id for s in made} == {str(issue.number)}
    assert all(s.prompt and "Add login" in s.prompt for s in made)
    first = await gh_stack.sessions.spawn_or_queue("app", issue=f"#{issue.number}")
    assert isinstance(first, Session) and first.branch == f"feat/{issue.number}-add-login"


# --------------------------------------------------------------------------- Linear


@pytest.fixture
def linear_api(linear_server: LinearServer) -> Any:
    api = FakeLinear()
    api.add_team("ENG", "Engineering")
    linear_server.attach(api)
    yield api
    linear_server.attach(None)
    assert api.rejected == [], api.rejected


@pytest.fixture
async def linear_stack(tmux_socket: str, data_dir: Path, repo: Path, linear_api: FakeLinear) -> AsyncIterator[Services]:
    tracker = {
        "provider": "linear",
        "api_key": linear_api.api_key,
        "base_url": linear_api.url,
        "in_progress_state": None,
    }
    async with services(make_config(data_dir, repo, tracker=tracker)) as stack:
        yield stack


async def test_linear_blockers_queue_the_spawn_until_the_blocker_is_done(
    linear_stack: Services, linear_api: FakeLinear
) -> None:
    blocker = linear_api.add_issue("ENG", "Schema")
    blocked = linear_api.add_issue("ENG", "API")
    linear_api.block(blocker.identifier, blocked.identifier)
    with pytest.raises(Blocked, match=f"blocked by {blocker.identifier}"):
        await linear_stack.sessions.spawn("app", issue=f"https://linear.app/acme/issue/{blocked.identifier}/api")
    queued = await linear_stack.sessions.spawn_or_queue("app", issue=blocked.identifier)
    assert isinstance(queued, QueuedSpawn) and queued.blockers == [blocker.identifier]
    assert await linear_stack.sessions.queue.process() == []
    blocker.state = next(s for s in blocker.team.workflow if s.name == "Done")
    assert len(await linear_stack.sessions.queue.process()) == 1
    await linear_stack.sessions.queue.wait_idle()
    done = await linear_stack.db.queue.get(queued.id)
    assert done.status is Q.SPAWNED
    session = await linear_stack.sessions.get(done.session_id or "")
    assert session.issue_id == blocked.identifier and session.branch == blocked.branchName


async def test_a_github_reference_on_a_linear_project_is_a_clear_error(linear_stack: Services) -> None:
    from ennio.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="is a GitHub issue, but project 'app' tracks its issues in Linear"):
        await linear_stack.sessions.spawn("app", issue="acme/widgets#4")
    with pytest.raises(InvalidInput, match="is not a Linear issue identifier"):
        await linear_stack.sessions.spawn("app", issue="#4")
