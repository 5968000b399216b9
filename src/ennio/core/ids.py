"""Validated identifiers: project and session ids, branch names, tmux names, issue slugs.

Everything that reaches git, tmux or a shell from outside passes one of these checks first.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

from ennio.core.errors import InvalidId

ID_MAX_LENGTH = 64
BRANCH_MAX_LENGTH = 200

_ID_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_BRANCH_COMPONENT_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*")
_SLUG_DROP_RE = re.compile(r"[^a-z0-9]+")


def validate_id(value: object, kind: str = "id") -> str:
    """Return ``value`` if it is a safe id: ``[A-Za-z0-9_-]``, 1..64 chars, not starting with ``-``."""
    if not isinstance(value, str):
        raise InvalidId(f"{kind} must be text, got {type(value).__name__}")
    if not value:
        raise InvalidId(f"{kind} is empty", hint="use letters, digits, '_' and '-'")
    if len(value) > ID_MAX_LENGTH:
        raise InvalidId(f"{kind} {value[:20]!r}… is {len(value)} characters long; the limit is {ID_MAX_LENGTH}")
    if not _ID_RE.fullmatch(value):
        bad = sorted({c for c in value if not (c.isascii() and (c.isalnum() or c in "_-"))})
        if value.startswith("-"):
            reason = "must not start with '-'"
        else:
            reason = "contains " + ", ".join(repr(c) for c in bad)
        raise InvalidId(f"{kind} {value!r} {reason}", hint="use only letters, digits, '_' and '-'")
    return value


def _project_id(value: str) -> str:
    return validate_id(value, "project id")


def _session_id(value: str) -> str:
    return validate_id(value, "session id")


ProjectId = Annotated[str, AfterValidator(_project_id)]
SessionId = Annotated[str, AfterValidator(_session_id)]


def validate_branch_name(value: object) -> str:
    """Return ``value`` if it is a branch name that is safe for git and for a shell.

    Stricter than ``git check-ref-format``: components are ``[A-Za-z0-9_][A-Za-z0-9._+-]*``
    joined by ``/``; no ``..``, no leading ``-``, no ``.lock`` suffix, no trailing dot.
    """
    if not isinstance(value, str) or not value:
        raise InvalidId("branch name is empty", hint="give a name like feat/42-add-login")
    if len(value) > BRANCH_MAX_LENGTH:
        raise InvalidId(f"branch name is {len(value)} characters long; the limit is {BRANCH_MAX_LENGTH}")
    problem: str | None = None
    if value.startswith("-"):
        problem = "must not start with '-'"
    elif ".." in value:
        problem = "must not contain '..'"
    elif value.endswith((".lock", ".", "/")) or value.startswith("/"):
        problem = "must not start with '/' or end with '/', '.' or '.lock'"
    elif value == "HEAD" or "@{" in value:
        problem = "is reserved by git"
    else:
        for part in value.split("/"):
            if not _BRANCH_COMPONENT_RE.fullmatch(part) or part.endswith(".lock"):
                bad = sorted({c for c in part if not (c.isascii() and (c.isalnum() or c in "._+-"))})
                problem = "contains " + ", ".join(repr(c) for c in bad) if bad else f"has an invalid part {part!r}"
                break
    if problem:
        raise InvalidId(
            f"branch name {value!r} {problem}",
            hint="use letters, digits and . _ + - in parts separated by '/'",
        )
    return value


def slugify(text: str, max_length: int = 40) -> str:
    """Lower-case ASCII slug of ``text`` ("Add login!" → "add-login"), cut at a word boundary."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _SLUG_DROP_RE.sub("-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    return slug.strip("-")


def branch_for_issue(issue_key: str, title: str, prefix: str = "feat") -> str:
    """``feat/42-add-login`` style branch name for an issue (key may be ``42`` or ``ENG-123``)."""
    key = slugify(issue_key, 30) or "issue"
    title_slug = slugify(title)
    name = f"{prefix}/{key}-{title_slug}" if title_slug else f"{prefix}/{key}"
    return validate_branch_name(name)


def make_session_id(prefix: str, number: int) -> str:
    """Readable session id: project prefix and a per-project counter (``app-7``)."""
    validate_id(prefix, "session prefix")
    return validate_id(f"{prefix}-{number}", "session id")


def random_suffix(length: int = 6) -> str:
    """A short random lower-case token (for names that need no counter)."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def tmux_session_name(instance: str, session_id: str) -> str:
    """tmux session name of an Ennio session: ``ennio-<instance>-<session id>``.

    ``instance`` distinguishes Ennio data directories on one machine so two installs never
    adopt each other's sessions.
    """
    validate_id(instance, "instance id")
    validate_id(session_id, "session id")
    return f"ennio-{instance}-{session_id}"
