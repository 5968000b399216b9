"""Services: the orchestration that wires plugins together through the core Protocols.

Grouped by capability; each sub-package's docstring says what it owns and what it may use:

* ``config/`` — finding, loading and documenting ``ennio.yaml``; where Ennio keeps its files;
* ``events/`` — the in-process event bus, the database event log (and NATS relay), notifications;
* ``sessions/`` — spawn, the SessionManager, adoption, cleanup, the spawn queue, plugin instances;
* ``lifecycle/`` — the reconcile pass, status rules and transitions, PR tracking, reactions, webhooks;
* ``forge/`` — issues and pull requests as front ends and sessions see them: references, blockers,
  a project's tracker and SCM.

The four modules at this level compose them: ``registry`` (plugins through entry points), ``stack``
(the services a front end opens), ``orchestrator`` (lifecycle + reactions + notifications, run by the
daemon and the demo) and ``doctor``. Services import ``core``, ``db`` and ``nats``, reach plugins only
through the registry and the core Protocols, and never import a front end (cli, web, daemon, demo).
"""
