"""Helpers shared by the GitHub SCM and tracker plugins (client, budget, transport, queries)."""
