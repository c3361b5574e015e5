"""The training read model: the roster (from routing), each officer's record, certificates, programmes,
and the jurisdiction tree; plus the queries the API, the timer and the iGOT import ask.

``tables`` defines the tables, ``projection`` says how each event changes them (two projections,
because a projection reads one subject filter per stream: ``training_records``, the TRAINING stream
and routing's officer subjects, and ``training_places``, routing's jurisdiction), ``queries`` reads them.
"""
