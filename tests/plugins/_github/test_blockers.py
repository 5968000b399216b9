from ennio.plugins._github.blockers import blocked_by

REPO = "acme/widgets"


def test_phrases_lists_and_urls() -> None:
    body = """Needs the new API.

Blocked by #12, #13 and #14
depends on: acme/widgets#20
Depends-on https://github.com/acme/widgets/issues/21
blocked-by other/lib#5
"""
    assert blocked_by(body, repo=REPO) == ["12", "13", "14", "20", "21", "other/lib#5"]


def test_unchecked_task_list_items_block_and_checked_ones_do_not() -> None:
    body = "Tasks:\n- [ ] #3\n- [x] #4\n* [ ] acme/widgets#5\n- [ ] write docs\n"
    assert blocked_by(body, repo=REPO) == ["3", "5"]


def test_ignores_code_blocks_self_references_repeats_and_plain_mentions() -> None:
    body = "See #9 for context.\n```\nblocked by #10\n```\nblocked by #11\nDepends on #11 and #42\n"
    assert blocked_by(body, repo=REPO, self_key="42") == ["11"]
    assert blocked_by("", repo=REPO) == []
