"""Built-in plugins, one sub-package per slot. Plugins import ``ennio.core`` (and ``ennio.core.proc``) only."""
