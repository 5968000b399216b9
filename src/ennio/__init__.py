"""Ennio: run many AI coding agents in parallel, from issue to merged pull request."""

__version__ = "0.1.0"
