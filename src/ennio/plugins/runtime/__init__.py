"""Runtimes: where an agent process lives (tmux session, or a pty under a small host process)."""
