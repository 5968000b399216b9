"""Hiding secrets in text that is printed or logged: passwords inside URLs."""

from __future__ import annotations


def redact(url: str) -> str:
    """``url`` with the password (everything between the user's ``:`` and the host's ``@``) hidden."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, path = rest.partition("/")
    userinfo, at, host = netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}{slash}{path}"
