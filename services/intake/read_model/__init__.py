"""Intake's read model, in three parts: ``tables`` (what is kept), ``projection`` (how each event changes
it, one small handler per event type, written as a set per batch through ``shared.rows.Rows``) and
``queries`` (what the API asks of it).

``intake_jurisdiction`` (``shared.places``, the projection every service has): the jurisdiction routing
imported (districts, circles, thanas, localities, Kendras), so that intake can check a complaint's place
without asking routing.

``intake_cases``: the case register and every case's timeline, from intake's own events and from
routing's (where the case went, who holds it) and escalation's (deadlines, breaches, escalations).

No identity data is stored here, sealed or not: it is read from the events, through the identity view.
"""
