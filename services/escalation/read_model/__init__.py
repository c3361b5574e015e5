"""Escalation's read model: the durable timer table, the clocks, the ladder and the jurisdiction.

Built from escalation's own events (clocks, breaches, escalations, the next check of each case) and
routing's jurisdiction and ``CaseRouted`` (where each case stands, for the ladder's offices and for
scoping queries). Nothing here holds identity data: cases are ids, numbers, codes and times.

``tables`` defines the tables, ``projection`` says how each event changes them, ``queries`` reads them
(for the timer worker, the process managers and the API).
"""
