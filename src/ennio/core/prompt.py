"""The prompt an agent starts with: the task (an issue or a given prompt), the project's rules, and how
Ennio follows up. Pure text functions; the caller reads ``agent_rules_file`` and fetches the issue.

Rules travel separately when the agent has a channel for them (a system prompt flag, a rules file):
the SessionManager passes ``compose_rules(...)`` as ``AgentContext.rules`` and the prompt without rules;
an agent with no such channel folds them back in with :func:`with_rules`.
"""

from __future__ import annotations

from ennio.core.errors import InvalidInput
from ennio.core.plugins import Issue

RULES_HEADING = "## Project rules"


def format_issue(issue: Issue) -> str:
    """The issue as the agent reads it: key and title, URL, labels, then the body."""
    lines = [f"## Issue {issue.key}: {issue.title.strip()}"]
    if issue.url:
        lines.append(f"URL: {issue.url}")
    if issue.labels:
        lines.append("Labels: " + ", ".join(issue.labels))
    body = issue.body.strip()
    lines += ["", body if body else "(the issue has no description)"]
    return "\n".join(lines)


def compose_rules(agent_rules: str | None, rules_file_text: str | None = None) -> str | None:
    """The project's rules: ``agent_rules`` then the text of ``agent_rules_file``; ``None`` when both are empty."""
    parts = [p.strip() for p in (agent_rules, rules_file_text) if p and p.strip()]
    return "\n\n".join(parts) if parts else None


def follow_up_note(branch: str | None = None, base_branch: str | None = None) -> str:
    """How Ennio works with the agent after this first message."""
    where = f"branch `{branch}`" if branch else "the branch you are on"
    base = f" against `{base_branch}`" if base_branch else ""
    return "\n".join(
        [
            "## How this session works",
            f"- You are in your own git workspace on {where}. Commit your work there and push that branch.",
            f"- Open one pull request for this branch{base} when the work is ready. If a pull request for it "
            "already exists, push to it: never open a second one.",
            "- Ennio watches the pull request's CI checks and reviews. When a check fails or a reviewer "
            "comments, it sends you the failure log or the comments here: fix them, commit and push again.",
            "- If you are blocked or need a decision, say so plainly and stop; a person will answer.",
        ]
    )


def compose_prompt(
    *,
    issue: Issue | None = None,
    prompt: str | None = None,
    rules: str | None = None,
    branch: str | None = None,
    base_branch: str | None = None,
    follow_up: bool = True,
) -> str:
    """The first message for an agent.

    ``issue`` and/or ``prompt`` say what to do (with both, the prompt adds instructions to the issue);
    ``rules`` are included only when given (see the module note); ``follow_up`` adds how Ennio follows up.
    """
    text = prompt.strip() if prompt else ""
    if issue is None and not text:
        raise InvalidInput(
            "nothing to do: the session has neither an issue nor a prompt", hint="give --issue or --prompt"
        )
    sections: list[str] = []
    if issue is not None:
        sections.append("Work on this issue from the project's tracker.\n\n" + format_issue(issue))
        if text:
            sections.append("## Additional instructions\n\n" + text)
    else:
        sections.append(text)
    if rules and rules.strip():
        sections.append(f"{RULES_HEADING}\n\n{rules.strip()}")
    if follow_up:
        sections.append(follow_up_note(branch, base_branch))
    return "\n\n".join(sections) + "\n"


def with_rules(prompt: str, rules: str | None) -> str:
    """``prompt`` with the rules section added (for agents that have no separate channel for rules)."""
    if not rules or not rules.strip() or RULES_HEADING in prompt:
        return prompt
    return f"{prompt.rstrip()}\n\n{RULES_HEADING}\n\n{rules.strip()}\n"
