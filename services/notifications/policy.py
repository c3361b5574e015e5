"""The notification policy: which rule sends on which channels, how a danger-now page repeats, how a
failing channel is retried, the SMS template ids. Configuration (``policy.yaml`` beside this module by
default), validated at load; every problem names its field. Check a file with
``python -m services.notifications.policy FILE``.
"""

from __future__ import annotations

import re
import sys
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from shared.contracts.notifications import CLOCK_TIME, NotificationChannel, NotificationRule
from shared.contracts.vocabulary import CaseStatus, LadderRole
from shared.policyfile import PolicyError as PolicyError  # what callers of this policy catch
from shared.policyfile import load_policy_file, parse_policy_document

DEFAULT_POLICY = Path(__file__).with_name("policy.yaml")

DELIVERY_BUDGET_SECONDS = 25.0
"""The longest a message's tries, timeouts and backoffs may take: a delivery silent for well beyond
that is taken to be cut short and sent again (``Delivery.cut_short_after``), so the budget keeps that
wait, and a message's delay after a crash, to about half a minute."""

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600}


def _span(value: Any) -> Any:
    if isinstance(value, timedelta) or (isinstance(value, str) and value.startswith("P")):
        return value  # already a span, or ISO 8601 as a dumped policy writes it
    match = _SPAN.match(str(value))
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(
            f"{value!r} is not a span: write seconds '30s', minutes '5m' or hours '1h' (above zero)"
        )
    return timedelta(seconds=float(match.group(1)) * _UNIT[match.group(2)])


Span = Annotated[timedelta, BeforeValidator(_span)]


def clock_time(text: str) -> time:
    """``22:00`` as a time of day (the text is already checked against ``CLOCK_TIME``)."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Rule(Strict):
    channels: list[NotificationChannel] = Field(min_length=1)
    urgent: bool = False


class DangerNowPaging(Strict):
    to: list[LadderRole] = Field(min_length=1)
    repeat_every: Span
    max_rounds: int = Field(ge=1, le=1000)


class Warning(Strict):
    at_pct: list[int] = Field(min_length=1)


class QuietHours(Strict):
    """A window of the day in IST (``21:00`` to ``08:00`` passes midnight)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, serialize_by_alias=True)
    start: str = Field(alias="from", pattern=CLOCK_TIME)
    until: str = Field(pattern=CLOCK_TIME)

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.until:
            raise ValueError("quiet_hours: 'from' and 'until' must differ")
        return self

    def window(self) -> tuple[time, time]:
        return clock_time(self.start), clock_time(self.until)


class ComplainantMessages(Strict):
    statuses: list[CaseStatus] = Field(default_factory=list)
    """The statuses a complainant who agreed to SMS is told her case has reached."""
    quiet_hours: QuietHours | None = None
    """The platform's quiet hours for complainants: a status message decided then waits for their end
    (her receipt never does). None: never held."""


COMPLAINANT_RULES = (NotificationRule.COMPLAINANT_RECEIPT, NotificationRule.COMPLAINANT_STATUS)


class Delivery(Strict):
    attempts: int = Field(ge=1, le=10)
    first_backoff: Span
    backoff_factor: float = Field(ge=1, le=10)
    timeout: Span

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1, 2, ...)."""
        return self.first_backoff.total_seconds() * self.backoff_factor ** (attempt - 1)

    @property
    def longest(self) -> float:
        """The longest a message can take from first try to parked."""
        waits = sum(self.backoff(a) for a in range(1, self.attempts))
        return self.attempts * self.timeout.total_seconds() + waits


class Policy(Strict):
    version: str = Field(min_length=1)
    status: str = Field(min_length=1)
    timezone: str = "Asia/Kolkata"
    rules: dict[NotificationRule, Rule]
    danger_now: DangerNowPaging
    deadline_warning: Warning
    delivery: Delivery
    complainant: ComplainantMessages = ComplainantMessages()
    sms_templates: dict[NotificationRule, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        problems: list[str] = []
        for rule in NotificationRule:
            found = self.rules.get(rule)
            if found is None:
                problems.append(f"rules.{rule}: missing (every rule needs its channels)")
                continue
            if rule in COMPLAINANT_RULES and found.channels != [NotificationChannel.SMS]:
                problems.append(f"rules.{rule}.channels: a complainant is sent SMS only (she never signs in)")
            if len(set(found.channels)) != len(found.channels):
                problems.append(f"rules.{rule}.channels: list each channel once")
            if NotificationChannel.SMS in found.channels:
                template = self.sms_templates.get(rule)
                if template is None:
                    problems.append(f"sms_templates.{rule}: missing (an SMS needs its DLT template id)")
                elif not re.fullmatch(r"[0-9]{19}", template):
                    problems.append(
                        f"sms_templates.{rule}: {template!r} is not a DLT template id (19 digits)"
                    )
        for pct in self.deadline_warning.at_pct:
            if not 0 < pct < 100:
                problems.append(f"deadline_warning.at_pct: {pct} is not a percentage between 1 and 99")
        if self.delivery.longest > DELIVERY_BUDGET_SECONDS:
            problems.append(
                f"delivery: attempts x timeout + backoffs is {self.delivery.longest:.1f}s; keep it under "
                f"{DELIVERY_BUDGET_SECONDS:.0f}s (fewer attempts, shorter timeout or backoff)"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone: unknown time zone {self.timezone!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def rule(self, rule: NotificationRule) -> Rule:
        return self.rules[rule]


def parse_policy(document: Any, source: str = "policy") -> Policy:
    """A validated policy from an already parsed document; PolicyError lists every problem."""
    return parse_policy_document(Policy, document, source, "notification policy")


def load_policy(path: Path = DEFAULT_POLICY) -> Policy:
    return load_policy_file(Policy, path, "notification policy")


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT_POLICY
    try:
        policy = load_policy(path)
    except PolicyError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{path}: version {policy.version} ({policy.status}), rules: {', '.join(policy.rules)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
