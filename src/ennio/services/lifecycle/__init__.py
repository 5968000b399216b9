"""The lifecycle: the reconcile pass and its schedule (``manager``), probing agents and their screens
(``probes``), the forge's batched answers (``forge_facts``), pull requests opened, adopted and observed
(``pr_tracking``), credential problems (``problems``), status rules and transitions (``status_rules``,
``transitions``), reactions and their messages (``reactions``, ``reaction_messages``), the reconcile hub
pokes arrive through (``reconcile_hub``), webhooks (``webhook_receiver``) and local branch heads
(``git_heads``).

Uses ``core``, ``db``, ``services.events``, ``services.forge`` and ``services.sessions.env``; plugins only
through the core Protocols handed to it.
"""
