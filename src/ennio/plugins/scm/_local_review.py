"""Review decision and the comments still to act on, from a PR's stored reviews (no I/O).

The decision follows each person's latest review, as on a forge: anyone whose latest review asks
for changes blocks; otherwise one approval approves; otherwise the PR waits for review. Bots
(``bot_authors``, or names ending in ``[bot]``) never decide; their comments are reported apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ennio.core.plugins import ReviewComment, ReviewDecision
from ennio.plugins.scm._local_docs import ReviewDoc


def bot_check(bot_authors: Iterable[str]) -> Callable[[str], bool]:
    bots = {name.lower().removesuffix("[bot]") for name in bot_authors}

    def is_bot(author: str) -> bool:
        name = author.lower()
        return name.endswith("[bot]") or name in bots

    return is_bot


def latest_by_author(reviews: Iterable[ReviewDoc]) -> dict[str, ReviewDoc]:
    latest: dict[str, ReviewDoc] = {}
    for review in sorted(reviews, key=lambda r: r.id):
        latest[review.author] = review
    return latest


def decision(reviews: Iterable[ReviewDoc], is_bot: Callable[[str], bool], *, is_open: bool) -> ReviewDecision:
    people = [r for a, r in latest_by_author(reviews).items() if not is_bot(a) and r.state != "commented"]
    if any(r.state == "changes_requested" for r in people):
        return ReviewDecision.CHANGES_REQUESTED
    if any(r.state == "approved" for r in people):
        return ReviewDecision.APPROVED
    return ReviewDecision.REVIEW_REQUIRED if is_open else ReviewDecision.NONE


def open_comments(
    reviews: Iterable[ReviewDoc], is_bot: Callable[[str], bool], forwarded: set[str]
) -> tuple[list[ReviewComment], list[ReviewComment]]:
    """Comments not yet forwarded: (from people, from bots).

    A person's comments count while their latest review asks for changes (approving later settles
    them); every comment a bot made counts until it is forwarded.
    """
    reviews = list(reviews)
    people: list[ReviewComment] = []
    for author, review in latest_by_author(reviews).items():
        if not is_bot(author) and review.state == "changes_requested":
            people += review.review_comments(is_bot=False)
    bots: list[ReviewComment] = []
    for review in sorted(reviews, key=lambda r: r.id):
        if is_bot(review.author):
            bots += review.review_comments(is_bot=True)
    return [c for c in people if c.id not in forwarded], [c for c in bots if c.id not in forwarded]
