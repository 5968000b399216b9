"""``ennio demo``: the whole loop on a sample project — no tokens, no network, about a minute."""
