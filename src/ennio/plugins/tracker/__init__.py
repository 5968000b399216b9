"""Tracker plugins: where issues come from (GitHub, Linear, or Markdown files in the repo)."""
