"""Routing's configuration (environment, prefix ``SHAKTI_ROUTING_``): state orders change it, not code."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts.vocabulary import AgencyKind


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
        description="An escalation at this ladder level or higher moves the case to another officer "
        "of its Kendra; 0 never does.",
    )
    catch_up_seconds: float = Field(
        default=20.0, gt=0, description="How long a decision waits for the duty board to catch up."
    )

    def referral_due_in(self) -> dict[AgencyKind, timedelta]:
        return {
            kind: timedelta(hours=self.referral_ack_hours_by_kind.get(kind, self.referral_ack_hours))
            for kind in AgencyKind
        }
