"""Issue references: every accepted form, clear errors for the rest, and no crash on any input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ennio.core.errors import InvalidInput
from ennio.core.issue_ref import IssueRef, is_linear_identifier, parse_issue_ref


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", IssueRef(key="42")),
        ("#42", IssueRef(key="42")),
        ("  #007 ", IssueRef(key="7")),
        ("octo/hello-world#42", IssueRef(key="42", provider="github", owner="octo", repo="hello-world")),
        (
            "https://github.com/octo/hello.world/issues/42",
            IssueRef(key="42", provider="github", owner="octo", repo="hello.world", host="github.com"),
        ),
        (
            "https://www.github.com/octo/app/issues/42#issuecomment-1",
            IssueRef(key="42", provider="github", owner="octo", repo="app", host="github.com"),
        ),
        (
            "https://github.com/octo/app/pull/7/files",
            IssueRef(key="7", provider="github", owner="octo", repo="app", host="github.com", kind="pull"),
        ),
        (
            "https://GHE.example.com:8443/team/app/issues/3/?x=1",
            IssueRef(key="3", provider="github", owner="team", repo="app", host="ghe.example.com:8443"),
        ),
        ("ENG-123", IssueRef(key="ENG-123", provider="linear")),
        ("eng-123", IssueRef(key="ENG-123", provider="linear")),
        (
            "https://linear.app/acme/issue/ENG-123/add-login-page",
            IssueRef(key="ENG-123", provider="linear", workspace="acme"),
        ),
        ("https://linear.app/acme/issue/ENG-9", IssueRef(key="ENG-9", provider="linear", workspace="acme")),
    ],
)
def test_accepted_forms(text: str, expected: IssueRef) -> None:
    assert parse_issue_ref(text) == expected


def test_issue_and_pull_urls_are_told_apart() -> None:
    issue = parse_issue_ref("https://github.com/o/r/issues/5")
    pull = parse_issue_ref("https://github.com/o/r/pull/5")
    assert (issue.kind, pull.kind) == ("issue", "pull")
    assert issue.number == pull.number == 5
    assert issue.repo_slug == "o/r"


def test_linear_reference_has_no_number() -> None:
    ref = parse_issue_ref("ENG-5")
    assert ref.number is None and ref.repo_slug is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "#",
        "0",
        "#-1",
        "abc",
        "owner/repo",
        "owner/repo#",
        "-owner/repo#1",
        "owner/../#1",
        "ENG-",
        "ENG-0",
        "123-ENG",
        "1ENG-2",
        "https://github.com/o/r/issues/",
        "https://github.com/o/r/issues/abc",
        "https://github.com/o/r/discussions/4",
        "ftp://github.com/o/r/issues/4",
        "https://linear.app/acme/project/ENG-1",
        "https://linear.app/o/r/issues/4",
        "https://host:99999/o/r/issues/4",
        "#٤٢",  # Arabic-Indic digits are not issue numbers
        "42\n43",
        "x" * 3000,
    ],
)
def test_rejected_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_issue_ref(text)
    assert info.value.hint is not None and "owner/repo#42" in info.value.hint and "ENG-123" in info.value.hint
    assert "\n" not in info.value.message


@pytest.mark.parametrize("value", [None, 42, b"#42", ["#42"]])
def test_non_text_is_rejected(value: object) -> None:
    with pytest.raises(InvalidInput, match="must be text"):
        parse_issue_ref(value)


@given(st.one_of(st.text(max_size=300), st.binary(max_size=50).map(lambda b: b.decode("latin-1"))))
def test_no_input_crashes_with_anything_but_invalid_input(text: str) -> None:
    try:
        ref = parse_issue_ref(text)
    except InvalidInput:
        return
    assert parse_issue_ref(str(ref)) == ref


_number = st.integers(min_value=1, max_value=10**10 - 1).map(str)
_owner = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}", fullmatch=True)
_repo = st.from_regex(r"[A-Za-z0-9._-]{1,100}", fullmatch=True).filter(lambda r: r not in {".", ".."})
_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
_host = st.builds(
    lambda labels, port: ".".join(labels) + (f":{port}" if port else ""),
    st.lists(_label, min_size=1, max_size=3),
    st.one_of(st.none(), st.integers(min_value=1, max_value=65535)),
).filter(lambda h: h.split(":")[0] not in {"www.github.com", "linear.app", "www.linear.app"})
_team = st.from_regex(r"[A-Z][A-Z0-9_]{0,9}", fullmatch=True)

refs = st.one_of(
    st.builds(IssueRef, key=_number),
    st.builds(IssueRef, key=_number, provider=st.just("github"), owner=_owner, repo=_repo),
    st.builds(
        IssueRef,
        key=_number,
        provider=st.just("github"),
        owner=_owner,
        repo=_repo,
        host=_host,
        kind=st.sampled_from(["issue", "pull"]),
    ),
    st.builds(IssueRef, key=st.builds(lambda t, n: f"{t}-{n}", _team, _number), provider=st.just("linear")),
    st.builds(
        IssueRef,
        key=st.builds(lambda t, n: f"{t}-{n}", _team, _number),
        provider=st.just("linear"),
        workspace=st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True),
    ),
)


@given(refs)
def test_valid_references_round_trip(ref: IssueRef) -> None:
    assert parse_issue_ref(str(ref)) == ref


@given(st.builds(lambda t, n: f"{t}-{n}", _team, _number))
def test_linear_identifiers_are_recognised(identifier: str) -> None:
    assert is_linear_identifier(identifier)
    assert parse_issue_ref(identifier).provider == "linear"
