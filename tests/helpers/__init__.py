"""Reusable test helpers (real git repositories, servers on 127.0.0.1, waiting on conditions)."""
