"""The facts of the user directory (stream ``USERS``), written only where session tokens are issued.

Subjects: ``shakti.users.user.<account id>`` (one person who signs in; the account id is the user name
spelled for a subject, ``shared.directory.account_id``) and ``shakti.users.service-number.<number>``
(who holds a service number, so that two users never share one). Every service reads these to know who
a token names: role and jurisdiction come from here, never from the token. No password and no password
hash is ever in an event: those stay in the web front's database.

A user's *session version* counts the events that ended their sessions: a token names the version it
was issued under, and one of an older version is refused.
"""

from __future__ import annotations

from typing import Literal

from shared.events import Event, JsonDict, event_type, events

SERVICE = "users"

SessionEnd = Literal["signed_out", "password_changed", "operator"]


@event_type("UserAdded", version=2)
class UserAdded(Event):
    username: str
    role: str
    service_number: str | None = None
    district: str | None = None
    circle: str | None = None
    thana: str | None = None
    agency: str | None = None
    """An agency desk's agency (its code in routing's jurisdiction); None for every other role."""
    demo: bool = False


@event_type("UserChanged", version=2)
class UserChanged(Event):
    """The user's role, jurisdiction or service number changed (the new values); their sessions end."""

    role: str
    service_number: str | None = None
    district: str | None = None
    circle: str | None = None
    thana: str | None = None
    agency: str | None = None


@events.upcaster("UserAdded", 1)
@events.upcaster("UserChanged", 1)
def _before_agency_desks(payload: JsonDict) -> JsonDict:
    # v1 was written before agency desks signed in: nobody then answered for an agency.
    return payload | {"agency": None}


@event_type("UserDisabled")
class UserDisabled(Event):
    """The user may no longer sign in, and every session of theirs ends."""


@event_type("UserEnabled")
class UserEnabled(Event):
    """A disabled user may sign in again (sessions from before stay ended)."""


@event_type("SessionsRevoked")
class SessionsRevoked(Event):
    """Every token issued to the user so far stops working (sign-out, new password, an operator)."""

    reason: SessionEnd


@event_type("ServiceNumberClaimed")
class ServiceNumberClaimed(Event):
    """The user now holds this service number (a claim stands while the user's record names it)."""

    service_number: str
    username: str
