"""Routing's configuration (environment, prefix ``SHAKTI_ROUTING_``): state orders change it, not code."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts.escalation import CaseEscalated
from shared.contracts.vocabulary import AgencyKind

# Escalations that say the case's officer is late (a deadline passed, or nobody answered in time). A
# danger-now case alerts supervisors at registration, up to the SHO, before anyone could be late: that
# alert asks them to watch, it must not take the case from the officer who has just been given it.
LATENESS = ("breach", "unanswered")


class RoutingPolicy(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHAKTI_ROUTING_", env_file=".env", extra="ignore")

    referral_ack_hours: float = Field(
        default=24.0, gt=0, description="Hours an agency has to acknowledge a referral."
    )
    referral_ack_hours_by_kind: dict[AgencyKind, float] = Field(
        default_factory=dict, description="Per agency kind, overriding referral_ack_hours (JSON)."
    )
    reassign_from_escalation_level: int = Field(
        default=2,
        ge=0,
        description="An escalation for lateness (a breach, or no answer) at this ladder level or higher "
        "moves the case to another officer of its Kendra; a danger-now alert never does; 0 never does.",
    )
    catch_up_seconds: float = Field(
        default=20.0, gt=0, description="How long a decision waits for the duty board to catch up."
    )

    def moves_case(self, escalated: CaseEscalated) -> bool:
        """Does this escalation take the case from its officer (lateness at the set level or higher)?"""
        threshold = self.reassign_from_escalation_level
        late = escalated.reason.split(":", 1)[0] in LATENESS
        return bool(threshold) and late and escalated.level >= threshold

    def referral_due_in(self) -> dict[AgencyKind, timedelta]:
        return {
            kind: timedelta(hours=self.referral_ack_hours_by_kind.get(kind, self.referral_ack_hours))
            for kind in AgencyKind
        }
