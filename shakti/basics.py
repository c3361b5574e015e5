"""What the ``shakti`` command needs before it knows which command it runs: the services' names (for
the help of ``serve`` and ``rebuild``), the operator console's account and the umask every command sets.

Only the standard library may be imported here: ``shakti.cli`` imports this at start-up, and an
operator waits for every import on every command (tests/test_cli_start.py).
"""

from __future__ import annotations

SERVICES: tuple[str, ...] = ("routing", "intake", "escalation", "training", "notifications")
"""Routing first: the others look up the jurisdiction it defines when they start."""

CONSOLE = "shakti-cli"
"""The operator console's own account: the ``shakti`` CLI signs its short tokens for it with the signing
key (it runs where that key is). It has no password and cannot be changed through the users API."""
CONSOLE_SESSION_VERSION = 1

PRIVATE_UMASK = 0o077
"""New files 0600 and folders 0700: read models, keys and users are their owner's alone."""
