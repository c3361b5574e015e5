"""What a user does on the platform: the roles alone, without the token machinery of ``shared.auth``, so
that the ``shakti`` command can offer them without loading the web framework."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    KENDRA_OFFICER = "kendra_officer"
    KENDRA_INCHARGE = "kendra_incharge"
    SHO = "sho"
    CO = "co"
    ADDL_SP = "addl_sp"
    SP = "sp"
    STATE_CELL = "state_cell"
    OPERATOR = "operator"
    AGENCY_DESK = "agency_desk"
    """Staff of an agency cases are referred to (One Stop Centre, DLSA, CWC, hospital, shelter home):
    answers her agency's referrals and sees nothing else of the platform."""
