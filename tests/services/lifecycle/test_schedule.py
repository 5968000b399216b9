"""The loop's schedule with webhooks: while a project's deliveries arrive its forge is asked at
``webhook_poll_interval`` (its agents are still watched every ``poll_interval``), it falls back once they stop,
and it is never left unpolled (a missed delivery cannot stall a session); pokes for sessions and for the spawn
queue run passes at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from ennio.core.session import SessionStatus
from ennio.services.lifecycle.reconcile_hub import ReconcileHub
from tests.helpers.fake_github import REPO
from tests.helpers.reactions import ReactionWorld
from tests.helpers.wait import async_wait_for

S = SessionStatus
World = Callable[..., Awaitable[ReactionWorld]]


async def test_deliveries_relax_the_forge_interval_until_they_stop(reaction_world: World) -> None:
    world = await reaction_world(
        lifecycle={"poll_interval": "30s", "webhook_poll_interval": "5m", "webhook_window": "1h"}
    )
    hub = ReconcileHub(world.clock)
    lifecycle = world.lifecycle()
    lifecycle.deliveries = hub
    assert lifecycle.forge_interval("widgets") == 30 and not lifecycle.webhook_fed("widgets")
    hub.delivery_seen("widgets")
    assert lifecycle.webhook_fed("widgets") and lifecycle.forge_interval("widgets") == 300
    assert lifecycle.next_delay("widgets") == 30  # the agents are still watched every poll_interval
    world.clock.advance(3599)
    assert lifecycle.forge_interval("widgets") == 300
    world.clock.advance(2)  # an hour without a delivery: webhooks may be broken, poll the forge normally again
    assert not lifecycle.webhook_fed("widgets") and lifecycle.forge_interval("widgets") == 30


async def test_while_webhooks_arrive_passes_skip_the_forge_but_still_watch_the_agents(reaction_world: World) -> None:
    world = await reaction_world(lifecycle={"poll_interval": "30s", "webhook_poll_interval": "5m"})
    hub = ReconcileHub(world.clock)
    github = world.github
    first, second = github.open_pr(REPO, "feat/1-work"), github.open_pr(REPO, "feat/2-work")
    one = await world.add_session(1, S.PR_OPEN, pr_number=first.number)
    two = await world.add_session(2, S.PR_OPEN, pr_number=second.number)
    lifecycle = world.lifecycle()
    lifecycle.deliveries = hub
    await lifecycle.run_once()  # no delivery yet: the forge is asked about everything
    hub.delivery_seen("widgets")

    asked = github.count(resource="graphql")
    await lifecycle.run_once()
    assert github.count(resource="graphql") == asked  # nothing changed, or a delivery would have said so
    await world.stop_agent(two)
    await lifecycle.run_once()
    assert (await world.db.sessions.get(two.id)).status is S.EXITED  # agents are watched every pass
    assert github.count(resource="graphql") == asked

    github.add_check(REPO, first.head_sha, "tests", conclusion="failure")
    await lifecycle.run_once([one.id])  # what a delivery naming it does
    assert github.count(resource="graphql") == asked + 1
    assert (await world.db.sessions.get(one.id)).status in (S.CI_FAILED, S.CI_FIX_SENT)

    world.clock.advance(301)  # webhook_poll_interval later the forge is asked about everything again
    await lifecycle.run_once()
    assert github.count(resource="graphql") > asked + 1


async def test_polling_still_catches_what_no_delivery_reported(reaction_world: World) -> None:
    world = await reaction_world(lifecycle={"poll_interval": "100ms", "webhook_poll_interval": "300ms"})
    world.clock.advance(datetime.now(UTC) - world.clock.now())  # the fake's rate-limit resets are real times
    hub = ReconcileHub(world.clock)
    pr = world.github.open_pr(REPO, "feat/1-work")
    session = await world.add_session(1, S.PR_OPEN, pr_number=pr.number)
    lifecycle = world.lifecycle()
    lifecycle.deliveries = hub
    hub.delivery_seen("widgets")
    detach = hub.attach(lifecycle)
    await lifecycle.start()
    try:
        await async_wait_for(lambda: _at_least(lifecycle.passes, 1), what="the first pass")
        world.github.add_check(REPO, pr.head_sha, "tests", conclusion="failure")  # and no webhook says so
        world.clock.advance(1)  # webhook_poll_interval goes by

        async def failed() -> bool:
            return (await world.db.sessions.get(session.id)).status is S.CI_FAILED

        await async_wait_for(failed, timeout=20, what="the relaxed poll to find the failure")
    finally:
        detach()
        await lifecycle.stop()


async def test_pokes_through_the_hub_run_a_pass_at_once(reaction_world: World) -> None:
    world = await reaction_world(lifecycle={"poll_interval": "1h"})
    hub = ReconcileHub(world.clock)
    assert hub.poke(["widgets-1"]) is False  # nothing listens yet
    pr = world.github.open_pr(REPO, "feat/1-work")
    session = await world.add_session(1, S.PR_OPEN, pr_number=pr.number)
    lifecycle = world.lifecycle()
    await lifecycle.start()
    detach = hub.attach(lifecycle)
    try:
        await async_wait_for(lambda: _at_least(lifecycle.passes, 1), what="the first pass")
        world.github.add_check(REPO, pr.head_sha, "tests", conclusion="failure")
        passes = lifecycle.passes
        assert hub.poke([session.id]) is True

        async def failed() -> bool:
            return (await world.db.sessions.get(session.id)).status is S.CI_FAILED

        await async_wait_for(failed, timeout=20, what="the poked pass")
        assert lifecycle.last_report is not None and lifecycle.last_report.sessions == 1
        assert hub.poke_queue() is True
        await async_wait_for(lambda: _at_least(lifecycle.passes, passes + 2), what="the queue pass")
    finally:
        detach()
        await lifecycle.stop()
    assert hub.running is False


async def _at_least(value: int, wanted: int) -> bool:
    return value >= wanted
