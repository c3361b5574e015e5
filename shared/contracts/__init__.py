"""The published language of the platform: what crosses a service boundary.

Every service's events (``intake``, ``routing``, ``escalation``, ``training``), with their stream and
aggregate names, and the one vocabulary of codes with Hindi and English labels (``vocabulary``). A
service imports these and ``shared``, never another service: services meet only through events.
"""
