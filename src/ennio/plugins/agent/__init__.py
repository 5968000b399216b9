"""Built-in agent plugins: Claude Code, Codex, aider, OpenCode, and a script runner."""
