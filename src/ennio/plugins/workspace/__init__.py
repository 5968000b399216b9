"""Workspace plugins: an isolated working directory on its own branch (``worktree``, ``clone``)."""
