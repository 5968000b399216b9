from __future__ import annotations

import re
import subprocess

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ennio.core.errors import InvalidId, InvalidInput
from ennio.core.ids import (
    BRANCH_MAX_LENGTH,
    ID_MAX_LENGTH,
    ProjectId,
    SessionId,
    branch_for_issue,
    make_session_id,
    random_suffix,
    slugify,
    tmux_session_name,
    validate_branch_name,
    validate_id,
)

SAFE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
ID_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@pytest.mark.parametrize("value", ["a", "app", "A1_b-c", "_x", "app-7", "x" * ID_MAX_LENGTH, "0"])
def test_valid_ids_are_returned_unchanged(value: str) -> None:
    assert validate_id(value) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "is empty"),
        ("x" * (ID_MAX_LENGTH + 1), "limit is 64"),
        ("-rf", "must not start with '-'"),
        ("--help", "must not start with '-'"),
        ("a b", "' '"),
        (" a", "' '"),
        ("a;rm -rf", "';'"),
        ("$(reboot)", "'$'"),
        ("`id`", "'`'"),
        ("a|b", "'|'"),
        ("a&b", "'&'"),
        ("a>b", "'>'"),
        ("a/b", "'/'"),
        ("..", "'.'"),
        ("../etc", "'.'"),
        (".", "'.'"),
        ("a\nb", "'\\n'"),
        ("a\x00b", "'\\x00'"),
        ("café", "'é'"),
        ("ａｐｐ", "'ａ'"),  # fullwidth letters look like ASCII but are not
        ("app\u200b", "'\\u200b'"),  # zero-width space
        ("١٢٣", "'١'"),  # Arabic-Indic digits pass str.isdigit()
        ("a'b", '"\'"'),
        ('a"b', "'\"'"),
        ("a*", "'*'"),
        ("a:b", "':'"),
    ],
)
def test_invalid_ids_are_rejected_with_the_reason(value: str, reason: str) -> None:
    with pytest.raises(InvalidId) as info:
        validate_id(value, "session id")
    assert reason in info.value.message
    assert info.value.message.startswith("session id")
    assert isinstance(info.value, InvalidInput)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("value", [None, 7, 1.5, b"app", ["app"]])
def test_non_text_ids_are_rejected(value: object) -> None:
    with pytest.raises(InvalidId, match="must be text"):
        validate_id(value)


def test_long_id_message_is_short() -> None:
    with pytest.raises(InvalidId) as info:
        validate_id("y" * 10_000)
    assert len(info.value.message) < 120


@given(st.text(max_size=80))
@example("-")
@example("a" * 65)
def test_validate_id_accepts_exactly_the_safe_alphabet(value: str) -> None:
    if SAFE_ID.fullmatch(value):
        assert validate_id(value) == value
    else:
        with pytest.raises(InvalidId):
            validate_id(value)


@given(st.text(ID_CHARS, min_size=1, max_size=ID_MAX_LENGTH).filter(lambda v: not v.startswith("-")))
def test_every_id_from_the_alphabet_is_accepted(value: str) -> None:
    assert validate_id(value) == value


class _Model(BaseModel):
    project: ProjectId
    session: SessionId


def test_annotated_ids_validate_inside_models() -> None:
    assert _Model(project="app", session="app-1").session == "app-1"
    with pytest.raises(InvalidId, match="project id"):
        _Model(project="a b", session="app-1")
    with pytest.raises(InvalidId, match="session id"):
        _Model(project="app", session="-x")


# --------------------------------------------------------------------------- branch names


@pytest.mark.parametrize("value", ["main", "feat/42-add-login", "release/1.2.3", "user/x_y+z", "a" * BRANCH_MAX_LENGTH])
def test_valid_branch_names(value: str) -> None:
    assert validate_branch_name(value) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("-b", "must not start with '-'"),
        ("feat/../main", "'..'"),
        ("a..b", "'..'"),
        ("feat/", "must not start with '/'"),
        ("/feat", "must not start with '/'"),
        ("feat.", "end with"),
        ("feat.lock", "'.lock'"),
        ("feat/x.lock/y", "invalid part"),
        ("HEAD", "reserved"),
        ("a@{1}", "reserved"),
        ("a b", "' '"),
        ("a;b", "';'"),
        ("a~1", "'~'"),
        ("a^", "'^'"),
        ("a:b", "':'"),
        ("a\\b", "'\\\\'"),
        ("a?b", "'?'"),
        ("a*b", "'*'"),
        ("a[b", "'['"),
        ("feat//x", "invalid part"),
        ("feat/.hidden", "invalid part"),
        ("$(id)", "'$'"),
        ("brañch", "'ñ'"),
        ("a" * (BRANCH_MAX_LENGTH + 1), "limit is 200"),
    ],
)
def test_invalid_branch_names(value: str, reason: str) -> None:
    with pytest.raises(InvalidId) as info:
        validate_branch_name(value)
    assert reason in info.value.message


def test_non_text_branch_name() -> None:
    with pytest.raises(InvalidId):
        validate_branch_name(42)


def _git_accepts_branch(name: str) -> bool:
    result = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True, check=False)
    return result.returncode == 0


@settings(max_examples=60, deadline=None)
@given(st.text(st.sampled_from("ab1_-./+@{}~^: \\*?[$;"), min_size=1, max_size=12))
def test_accepted_branch_names_are_accepted_by_real_git(value: str) -> None:
    try:
        validate_branch_name(value)
    except InvalidId:
        return
    assert _git_accepts_branch(value), value


# --------------------------------------------------------------------------- derived names


@given(st.text(max_size=200), st.integers(min_value=1, max_value=80))
def test_slugify_is_always_a_clean_slug(text: str, limit: int) -> None:
    slug = slugify(text, limit)
    assert re.fullmatch(r"([a-z0-9]+(-[a-z0-9]+)*)?", slug), slug
    assert len(slug) <= limit


def test_slugify_examples() -> None:
    assert slugify("Add login!") == "add-login"
    assert slugify("Crème brûlée") == "creme-brulee"
    assert slugify("日本語") == ""
    assert slugify("a" * 30 + " " + "b" * 30, 40) == "a" * 30


@given(st.text(max_size=60), st.text(max_size=300))
def test_branch_for_issue_always_gives_a_safe_branch(key: str, title: str) -> None:
    branch = branch_for_issue(key, title)
    assert validate_branch_name(branch) == branch
    assert branch.startswith("feat/")


def test_branch_for_issue_examples() -> None:
    assert branch_for_issue("42", "Add login") == "feat/42-add-login"
    assert branch_for_issue("ENG-123", "Fix: crash on `rm -rf /`", prefix="fix") == "fix/eng-123-fix-crash-on-rm-rf"
    assert branch_for_issue("", "") == "feat/issue"


def test_session_ids_are_prefix_and_counter() -> None:
    assert make_session_id("app", 7) == "app-7"
    assert len({make_session_id("app", n) for n in range(1, 200)}) == 199
    with pytest.raises(InvalidId, match="session prefix"):
        make_session_id("a b", 1)
    with pytest.raises(InvalidId, match="limit"):
        make_session_id("p" * ID_MAX_LENGTH, 1)


def test_tmux_names_are_namespaced_and_validated() -> None:
    assert tmux_session_name("abc123", "app-7") == "ennio-abc123-app-7"
    with pytest.raises(InvalidId, match="session id"):
        tmux_session_name("abc123", "app;7")
    with pytest.raises(InvalidId, match="instance id"):
        tmux_session_name("../x", "app-7")


def test_random_suffix_alphabet_and_length() -> None:
    values = {random_suffix() for _ in range(50)}
    assert len(values) > 45
    for value in values:
        assert re.fullmatch(r"[a-km-z2-9]{6}", value)
    assert len(random_suffix(12)) == 12
