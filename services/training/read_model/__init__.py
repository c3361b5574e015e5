"""The training read model: the roster (from routing), each officer's record, certificates, programmes;
plus the queries the API, the timer and the iGOT import ask.

``tables`` defines the tables, ``projection`` says how each event changes them (``training_records``:
the TRAINING stream and routing's officer subjects), ``queries`` reads them, with the jurisdiction tree
the compliance roll-up follows from ``training_jurisdiction`` (``shared.places``, the projection every
service has: a projection reads one subject filter per stream, and the tree is on routing's district
subjects).
"""
