"""The notifications service's read model: every notification (per recipient, unread or not), the
danger-now pages still repeating, and the roster the decisions read (routing's Kendra officers and
their duty, the user directory's holders of the levels above the Kendra). Place names come from the
shared ``Places`` projection.

Nothing here holds identity data: recipients are service numbers, user names and codes.

``tables`` defines the tables, ``projection`` says how each event changes them, ``queries`` reads them.
"""
