"""Configuration: finding and loading ``ennio.yaml`` (``loader``), the README's reference generated from the
models (``docs``), the starter file of ``ennio init`` (``starter``) and the data directory's layout (``paths``).

Uses ``core`` only (the models live in ``core.config``); everything else in services may use it.
"""
