"""Composing an agent's first message from an issue or a prompt, the project's rules and Ennio's follow-up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ennio.core.errors import InvalidInput
from ennio.core.plugins import Issue
from ennio.core.prompt import RULES_HEADING, compose_prompt, compose_rules, format_issue, with_rules

ISSUE = Issue(
    key="42",
    title="Add login",
    body="Users need to log in with email.\n\n- [ ] form\n- [ ] session",
    labels=["feature", "auth"],
    url="https://github.com/acme/app/issues/42",
)


def test_issue_prompt_has_title_url_labels_body_and_follow_up() -> None:
    text = compose_prompt(issue=ISSUE, branch="feat/42-add-login", base_branch="main")
    assert "## Issue 42: Add login" in text
    assert "URL: https://github.com/acme/app/issues/42" in text
    assert "Labels: feature, auth" in text
    assert "Users need to log in with email.\n\n- [ ] form" in text
    assert "branch `feat/42-add-login`" in text
    assert "against `main`" in text
    assert "never open a second one" in text
    assert "CI" in text
    assert "review" in text
    assert text.index("Add login") < text.index("How this session works")


def test_given_prompt_is_used_as_is() -> None:
    text = compose_prompt(prompt="  Refactor the parser.  ")
    assert text.startswith("Refactor the parser.\n")
    assert "## Issue" not in text
    assert "branch you are on" in text


def test_prompt_with_issue_adds_instructions() -> None:
    text = compose_prompt(issue=ISSUE, prompt="Only touch the backend.")
    assert "## Additional instructions\n\nOnly touch the backend." in text
    assert text.index("Users need to log in") < text.index("Only touch the backend.")


def test_rules_are_included_only_when_given() -> None:
    assert RULES_HEADING not in compose_prompt(prompt="x")
    text = compose_prompt(prompt="x", rules="Run `make test`.")
    assert f"{RULES_HEADING}\n\nRun `make test`." in text
    assert text.index(RULES_HEADING) < text.index("How this session works")


def test_follow_up_can_be_left_out() -> None:
    assert compose_prompt(prompt="Just this.", follow_up=False) == "Just this.\n"


def test_issue_without_body_or_labels() -> None:
    text = format_issue(Issue(key="ENG-7", title=" Fix typo "))
    assert text == "## Issue ENG-7: Fix typo\n\n(the issue has no description)"


@pytest.mark.parametrize("prompt", [None, "", "   \n"])
def test_nothing_to_do_is_a_clear_error(prompt: str | None) -> None:
    with pytest.raises(InvalidInput, match="neither an issue nor a prompt"):
        compose_prompt(prompt=prompt)


def test_compose_rules_joins_config_and_file_text() -> None:
    assert compose_rules(None, None) is None
    assert compose_rules("  ", "\n") is None
    assert compose_rules("Use tabs.", None) == "Use tabs."
    assert compose_rules("Use tabs.", "# CONTRIBUTING\nSign commits.\n") == "Use tabs.\n\n# CONTRIBUTING\nSign commits."


def test_with_rules_adds_rules_once() -> None:
    base = compose_prompt(prompt="Do it.")
    once = with_rules(base, "Be careful.")
    assert once.count(RULES_HEADING) == 1
    assert with_rules(once, "Be careful.") == once
    assert with_rules(base, None) == base


@given(title=st.text(min_size=1), body=st.text(), labels=st.lists(st.text(min_size=1), max_size=3))
def test_any_issue_text_survives(title: str, body: str, labels: list[str]) -> None:
    """Whatever the tracker holds, the body and title reach the agent (stripped), and composing never fails."""
    issue = Issue(key="1", title=title, body=body, labels=labels)
    text = compose_prompt(issue=issue)
    assert title.strip() in text
    assert body.strip() in text
