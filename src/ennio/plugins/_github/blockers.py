"""Which issues an issue waits for, read from its body.

Recognised (case-insensitive), outside fenced code blocks:

* ``blocked by #12``, ``Blocked-by: #12, #13 and #14``, ``depends on #7`` / ``depends-on``;
* the same with ``owner/repo#12`` or an issue URL (``https://github.com/owner/repo/issues/12``);
* unchecked task-list items that reference an issue: ``- [ ] #12`` (checked ``- [x]`` ones are done).

Same-repository references become plain keys (``"12"``); others keep ``owner/repo#12``.
"""

from __future__ import annotations

import re

_REF = r"(?:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)?#\d+|https?://[^\s/]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/(?:issues|pull)/\d+"
_LIST = rf"(?:{_REF})(?:\s*(?:,|;|\band\b|&)\s*(?:{_REF}))*"
_PHRASE = re.compile(rf"\b(?:blocked[\s-]+by|depends[\s-]+on)\s*:?\s*({_LIST})", re.IGNORECASE)
_TASK = re.compile(rf"^\s*[-*+]\s+\[ \]\s+({_REF})", re.MULTILINE)
_ONE = re.compile(_REF)
_URL = re.compile(r"https?://[^\s/]+/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/(?:issues|pull)/(\d+)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def blocked_by(body: str, *, repo: str, self_key: str | None = None) -> list[str]:
    """Keys of the issues ``body`` says must be finished first, in order of mention, without repeats."""
    text = _FENCE.sub("", body or "")
    refs: list[str] = []
    for match in _PHRASE.finditer(text):
        refs += _ONE.findall(match.group(1))
    refs += [m.group(1) for m in _TASK.finditer(text)]
    out: list[str] = []
    for ref in refs:
        key = _key(ref, repo)
        if key != self_key and key not in out:
            out.append(key)
    return out


def _key(ref: str, repo: str) -> str:
    url = _URL.fullmatch(ref)
    if url:
        owner_repo, number = f"{url.group(1)}/{url.group(2)}", url.group(3)
    elif ref.startswith("#"):
        return ref[1:]
    else:
        owner_repo, number = ref.split("#", 1)
    return number if owner_repo.lower() == repo.lower() else f"{owner_repo}#{number}"
