"""Terminals: how a person reaches an agent's terminal."""
