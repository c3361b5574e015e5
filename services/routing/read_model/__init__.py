"""Routing's read model, in three parts: ``tables`` (the jurisdiction, the roster with certifications,
where every case sits, referrals), ``projection`` (how each event changes them, one small handler per
event type, written as a set per batch through ``shared.rows.Rows``) and ``queries`` (what supervisors and
operators ask, scoped by the caller's jurisdiction).

Nothing here identifies a complainant: a case is its id, number, category, priority and place.
"""
