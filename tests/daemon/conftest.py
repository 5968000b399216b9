"""Fixtures of the daemon's tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo("app")
