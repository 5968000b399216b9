"""Issue references as a person types them: ``42``, ``#42``, ``owner/repo#42``, a GitHub URL, ``ENG-123``, a Linear URL.

:func:`parse_issue_ref` turns the text given to ``ennio spawn --issue`` into an :class:`IssueRef`: which
tracker it points at (when the text says), the repository or workspace (when given) and the tracker's own key.
``str(ref)`` gives a canonical form that parses back to the same reference. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ennio.core.errors import InvalidInput

Provider = Literal["github", "linear"]
IssueKind = Literal["issue", "pull"]

#: longest text worth trying to read (a URL with a long slug fits easily)
MAX_REF_LENGTH = 2000
MAX_NUMBER = 10**10

ACCEPTED_FORMS = (
    "42, #42, owner/repo#42, https://github.com/owner/repo/issues/42 (or /pull/42, or a GitHub Enterprise host), "
    "ENG-123, or https://linear.app/<workspace>/issue/ENG-123"
)

_NUMBER = r"[0-9]{1,11}"
# GitHub: owner 1-39 of [A-Za-z0-9-], not starting with '-'; repo 1-100 of [A-Za-z0-9._-]
_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_REPO = r"[A-Za-z0-9._-]{1,100}"
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*(?::[0-9]{{1,5}})?"
_TEAM_KEY = r"[A-Za-z][A-Za-z0-9_]{0,9}"
_LINEAR_KEY = rf"({_TEAM_KEY})-({_NUMBER})"
_WORKSPACE = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_TAIL = r"/?(?:[?#][^\s]*)?"

_NUMBER_RE = re.compile(rf"#?({_NUMBER})", re.ASCII)
_REPO_RE = re.compile(rf"({_OWNER})/({_REPO})#({_NUMBER})", re.ASCII)
_LINEAR_KEY_RE = re.compile(_LINEAR_KEY, re.ASCII)
_GITHUB_URL_RE = re.compile(
    rf"https?://({_HOST})/({_OWNER})/({_REPO})/(issues|pull)/({_NUMBER})(?:/(?:files|commits|checks))?{_TAIL}",
    re.ASCII | re.IGNORECASE,
)
_LINEAR_URL_RE = re.compile(
    rf"https?://(?:www\.)?linear\.app/({_WORKSPACE})/issue/{_LINEAR_KEY}(?:/[A-Za-z0-9._~%-]*)?{_TAIL}",
    re.ASCII | re.IGNORECASE,
)
#: a Linear issue identifier, upper-case as Linear writes it (``ENG-123``)
LINEAR_IDENTIFIER_RE = re.compile(r"[A-Z][A-Z0-9_]{0,9}-[1-9][0-9]{0,9}", re.ASCII)


@dataclass(frozen=True, slots=True)
class IssueRef:
    """What an issue reference names. ``provider`` is ``None`` when the text does not say (``42``)."""

    key: str
    provider: Provider | None = None
    owner: str | None = None
    repo: str | None = None
    #: GitHub host of a URL (``github.com`` or a GitHub Enterprise host)
    host: str | None = None
    #: ``pull`` when a GitHub URL points at a pull request
    kind: IssueKind = "issue"
    #: Linear workspace url key, when a Linear URL gave one
    workspace: str | None = None

    @property
    def number(self) -> int | None:
        """The issue number (GitHub or plain references); ``None`` for Linear identifiers."""
        return int(self.key) if self.key.isdigit() else None

    @property
    def repo_slug(self) -> str | None:
        return f"{self.owner}/{self.repo}" if self.owner and self.repo else None

    def __str__(self) -> str:
        if self.provider == "linear":
            if self.workspace:
                return f"https://linear.app/{self.workspace}/issue/{self.key}"
            return self.key
        if self.host and self.owner and self.repo:
            path = "pull" if self.kind == "pull" else "issues"
            return f"https://{self.host}/{self.owner}/{self.repo}/{path}/{self.key}"
        if self.owner and self.repo:
            return f"{self.owner}/{self.repo}#{self.key}"
        return f"#{self.key}"


def is_linear_identifier(value: str) -> bool:
    return isinstance(value, str) and LINEAR_IDENTIFIER_RE.fullmatch(value) is not None


def _number(text: str) -> str:
    n = int(text)
    if n < 1 or n >= MAX_NUMBER:
        raise ValueError(text)
    return str(n)


def _linear_key(team: str, number: str) -> str:
    return f"{team.upper()}-{_number(number)}"


def _repo_name(repo: str) -> str:
    if repo in {".", ".."}:
        raise ValueError(repo)
    return repo


def _host(host: str) -> str:
    host = host.lower()
    name, _, port = host.partition(":")
    if port and not 0 < int(port) < 65536:
        raise ValueError(host)
    return "github.com" if name == "www.github.com" and not port else host


def _parse(text: str) -> IssueRef:
    if m := _NUMBER_RE.fullmatch(text):
        return IssueRef(key=_number(m[1]))
    if m := _REPO_RE.fullmatch(text):
        return IssueRef(key=_number(m[3]), provider="github", owner=m[1], repo=_repo_name(m[2]))
    if m := _LINEAR_KEY_RE.fullmatch(text):
        return IssueRef(key=_linear_key(m[1], m[2]), provider="linear")
    if m := _LINEAR_URL_RE.fullmatch(text):
        return IssueRef(key=_linear_key(m[2], m[3]), provider="linear", workspace=m[1].lower())
    if m := _GITHUB_URL_RE.fullmatch(text):
        host = _host(m[1])
        if host.split(":")[0] in {"linear.app", "www.linear.app"}:
            raise ValueError(text)
        return IssueRef(
            key=_number(m[5]),
            provider="github",
            owner=m[2],
            repo=_repo_name(m[3]),
            host=host,
            kind="pull" if m[4].lower() == "pull" else "issue",
        )
    raise ValueError(text)


def parse_issue_ref(text: object) -> IssueRef:
    """Read an issue reference; raise :class:`InvalidInput` naming the accepted forms if it is none of them."""
    if not isinstance(text, str):
        raise InvalidInput(f"an issue reference must be text, got {type(text).__name__}", hint=f"use {ACCEPTED_FORMS}")
    stripped = text.strip()
    if not stripped:
        raise InvalidInput("the issue reference is empty", hint=f"use {ACCEPTED_FORMS}")
    shown = stripped if len(stripped) <= 60 else stripped[:57] + "..."
    if len(stripped) > MAX_REF_LENGTH:
        raise InvalidInput(f"issue reference {shown!r} is too long", hint=f"use {ACCEPTED_FORMS}")
    try:
        return _parse(stripped)
    except ValueError:
        raise InvalidInput(f"{shown!r} is not an issue reference", hint=f"use {ACCEPTED_FORMS}") from None
