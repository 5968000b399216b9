from __future__ import annotations

import pytest

from ennio.core.clock import SystemClock
from ennio.core.errors import InvalidInput
from ennio.core.plugins import PluginContext, PluginStore
from ennio.db import Database


async def test_works_as_the_plugin_store_of_a_plugin_context(db: Database, data_dir) -> None:  # type: ignore[no-untyped-def]
    context = PluginContext(data_dir=data_dir, clock=SystemClock(), store=db.store)
    store: PluginStore | None = context.store
    assert store is not None
    await store.put("tracker.local", "cursor", {"seen": 3})
    assert await store.list("tracker.local") == {"cursor": {"seen": 3}}


async def test_put_get_replace_delete(db: Database) -> None:
    assert await db.store.get("github", "etag:1") is None
    await db.store.put("github", "etag:1", {"etag": "W/1", "n": [1, {"a": None}]})
    assert await db.store.get("github", "etag:1") == {"etag": "W/1", "n": [1, {"a": None}]}
    await db.store.put("github", "etag:1", {"etag": "W/2"})
    assert await db.store.get("github", "etag:1") == {"etag": "W/2"}
    assert await db.store.get("linear", "etag:1") is None
    await db.store.delete("github", "etag:1")
    assert await db.store.get("github", "etag:1") is None
    await db.store.delete("github", "etag:1")  # deleting what is gone is fine


async def test_list_by_prefix_is_case_sensitive_and_literal(db: Database) -> None:
    for key in ["pr:1", "pr:2", "PR:3", "pr_x", "pr%y", "issue:1"]:
        await db.store.put("scm", key, {"k": key})
    await db.store.put("other", "pr:9", {})
    assert list(await db.store.list("scm", "pr:")) == ["pr:1", "pr:2"]
    assert list(await db.store.list("scm", "pr%")) == ["pr%y"]
    assert list(await db.store.list("scm", "pr_")) == ["pr_x"]
    assert set(await db.store.list("scm")) == {"pr:1", "pr:2", "PR:3", "pr_x", "pr%y", "issue:1"}
    assert (await db.store.list("scm", "issue"))["issue:1"] == {"k": "issue:1"}


@pytest.mark.parametrize(("namespace", "key"), [("", "k"), ("n", ""), ("n" * 101, "k"), ("n", "k" * 256)])
async def test_bad_names_are_rejected(db: Database, namespace: str, key: str) -> None:
    with pytest.raises(InvalidInput):
        await db.store.put(namespace, key, {})


async def test_values_must_be_objects(db: Database) -> None:
    with pytest.raises(InvalidInput):
        await db.store.put("n", "k", [1, 2])  # type: ignore[arg-type]


async def test_add_stores_only_when_absent(db: Database) -> None:
    assert await db.store.add("scm", "pr:1", {"who": "first"}) is True
    assert await db.store.add("scm", "pr:1", {"who": "second"}) is False
    assert await db.store.get("scm", "pr:1") == {"who": "first"}
    with pytest.raises(InvalidInput):
        await db.store.add("scm", "pr:2", [1])  # type: ignore[arg-type]


async def test_add_claims_a_key_once_across_connections(db: Database, reopen) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    other = await reopen()
    try:
        claims = [(db if i % 2 else other).store.add("scm", "claim", {"by": i}) for i in range(8)]
        results = await asyncio.gather(*claims)
    finally:
        await other.close()
    assert sorted(results) == [False] * 7 + [True]
    winner = results.index(True)
    assert await db.store.get("scm", "claim") == {"by": winner}
