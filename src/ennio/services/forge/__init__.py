"""Issues and pull requests as sessions and front ends see them: issue references that must fit a
project's tracker (``issue_refs``), unfinished blockers (``blockers``), opening a project's tracker
(``trackers``) and its SCM's pull requests (``pull_requests``).

Uses ``core``, ``db``, ``services.config`` and the plugin registry.
"""
