"""Who must be told what: pure decisions from other services' events to notification requests, and the
notification aggregate (requested, sent, failed, acknowledged). Nothing here does I/O: the roster,
the case's facts, the policy and the time are arguments.

Recipients are people on duty: a Kendra officer from routing's roster (on duty, not on leave), the
levels above the Kendra from the user directory (someone the roster shows off duty or on leave is
passed over). A level nobody holds now is addressed to its office (``office:<role>:<code>``), so that
whoever takes it up sees it: a message is never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import ClassVar

from shared.aggregate import Aggregate
from shared.clock import IST
from shared.contracts.escalation import CaseEscalated, DeadlineApproaching, SlaBreached
from shared.contracts.intake import (
    AwaitingComplainant,
    CaseClosed,
    CaseMarkedDuplicate,
    CaseRegistered,
    CaseReopened,
    CaseResolved,
    CaseWithdrawn,
    FirstContactMade,
)
from shared.contracts.notifications import (
    AGGREGATE,
    COMPLAINANT,
    PREFERENCES,
    NotificationAcknowledged,
    NotificationChannel,
    NotificationDeferred,
    NotificationFailed,
    NotificationReleased,
    NotificationRequested,
    NotificationRetried,
    NotificationRule,
    NotificationSent,
    PreferencesChanged,
    notification_id,
)
from shared.contracts.routing import CaseAssigned, CaseReassigned, CaseRouted, ReferralIssued
from shared.contracts.training import (
    CertificationLapsed,
    RetrainingRequired,
    TrainingAssigned,
    TrainingOverdue,
)
from shared.contracts.vocabulary import CaseStatus, DutyStatus, LadderRole, Record
from shared.errors import DomainError, NotFound
from shared.events import Event

from .policy import Policy, clock_time


@dataclass(frozen=True)
class Officer:
    """A Kendra officer as routing's roster has them."""

    service_number: str
    kendra: str = ""
    thana: str = ""
    incharge: bool = False
    status: DutyStatus = DutyStatus.ON_DUTY


@dataclass(frozen=True)
class Holder:
    """A user of the directory who answers for a ladder level at a place."""

    username: str
    role: str
    service_number: str | None = None
    district: str | None = None
    circle: str | None = None
    thana: str | None = None

    @property
    def address(self) -> str:
        return f"officer:{self.service_number}" if self.service_number else f"user:{self.username}"


# Which place of a holder's record a ladder office code is compared with.
OFFICE_FIELD: dict[LadderRole, str | None] = {
    LadderRole.KENDRA_INCHARGE: "thana",
    LadderRole.SHO: "thana",
    LadderRole.CO: "circle",
    LadderRole.ADDL_SP: "district",
    LadderRole.SP: "district",
    LadderRole.STATE_CELL: None,
}


@dataclass(frozen=True)
class Roster:
    officers: Mapping[str, Officer] = field(default_factory=dict)
    holders: Sequence[Holder] = ()
    kendra_thana: Mapping[str, str] = field(default_factory=dict)
    """Kendra code -> its thana."""

    def available(self, service_number: str | None) -> bool:
        """Not shown off duty or on leave by the roster (the levels above the Kendra are not on it)."""
        officer = self.officers.get(service_number or "")
        return officer is None or officer.status is DutyStatus.ON_DUTY

    def officer(self, service_number: str) -> str | None:
        return f"officer:{service_number}" if self.available(service_number) else None

    def kendra_of(self, thana: str | None) -> str | None:
        return next((k for k, t in sorted(self.kendra_thana.items()) if t == thana), None) if thana else None

    def level(self, role: LadderRole, office: str) -> list[str]:
        """Whoever holds ``role`` at ``office`` now, on duty; the office itself when nobody does."""
        found: set[str] = set()
        if role is LadderRole.KENDRA_INCHARGE:
            found = {
                f"officer:{o.service_number}"
                for o in self.officers.values()
                if o.kendra == office and o.incharge and o.status is DutyStatus.ON_DUTY
            }
            place = self.kendra_thana.get(office)
        else:
            place = office
        if not found:
            where = OFFICE_FIELD[role]
            found = {
                h.address
                for h in self.holders
                if h.role == role.value
                and (where is None or getattr(h, where) == place)
                and self.available(h.service_number)
            }
        return sorted(found) or [f"office:{role.value}:{office}"]


@dataclass(frozen=True)
class CaseFacts:
    """What a message may say about a case: its number and places. Never anything about her."""

    case_id: str
    case_number: str
    district: str
    circle: str | None = None
    thana: str | None = None
    kendra: str | None = None
    officer: str | None = None
    """The officer the case is assigned to now."""
    level: tuple[LadderRole, str] | None = None
    """The highest ladder level (role, office) the case has been escalated to."""
    danger_now: bool = False
    registration_id: str | None = None
    """The id of intake's ``CaseRegistered``: the cause of a danger-now page, every round."""
    thana_at_registration: bool = False
    messages_consent: bool = False
    """She agreed to SMS at registration and has not withdrawn it since (intake's events)."""
    identity_erased: bool = False
    language: str = "hi"
    """Her language from the registration (a message is written in Hindi or English)."""


@dataclass(frozen=True)
class TrainingFacts:
    """What a message may say about an officer's training: whose, and where they serve."""

    service_number: str
    thana: str | None = None
    kendra: str | None = None


@dataclass(frozen=True)
class Cause:
    event_id: str
    at: datetime


def decide(
    event: Event, cause: Cause, case: CaseFacts, roster: Roster, policy: Policy
) -> list[NotificationRequested]:
    """The notifications an event of another service calls for (none for most)."""
    match event:
        case CaseAssigned() | CaseReassigned():
            return requests(
                NotificationRule.ASSIGNED,
                [f"officer:{event.officer}"],
                cause,
                case,
                policy,
                kendra=event.kendra,
            )
        case CaseRegistered():
            return page(case, roster, policy, round=1, at=cause.at) if event.danger_now else []
        case DeadlineApproaching():
            if event.threshold_pct not in policy.deadline_warning.at_pct:
                return []
            return requests(
                NotificationRule.DEADLINE_WARNING,
                officer_or_incharge(case, roster),
                cause,
                case,
                policy,
                clock=event.clock,
                due_at=event.due_at,
                threshold_pct=event.threshold_pct,
            )
        case SlaBreached():
            role = case.level[0] if case.level else None
            return requests(
                NotificationRule.BREACH,
                holders_now(case, roster),
                cause,
                case,
                policy,
                clock=event.clock,
                due_at=event.due_at,
                role=role,
            )
        case CaseEscalated():
            if event.reason.startswith("danger_now") and event.role in policy.danger_now.to:
                return []  # the danger-now page tells these levels already, and keeps telling them
            if event.role is LadderRole.STATE_CELL:
                return []  # the state cell reads figures, never a named case
            return requests(
                NotificationRule.ESCALATION,
                roster.level(event.role, event.office_code),
                cause,
                case,
                policy,
                role=event.role,
            )
        case ReferralIssued():
            return requests(
                NotificationRule.REFERRAL,
                [f"agency:{event.agency_code}"],
                cause,
                case,
                policy,
                agency_code=event.agency_code,
                due_at=event.due_at,
            )
    return []


TrainingEvent = TrainingAssigned | RetrainingRequired | TrainingOverdue | CertificationLapsed


TRAINING_NEWS = timedelta(days=3)
"""How long a training event is news: older ones (a history read when this reaction first starts on
an existing platform, or a backlog) are not sent."""


def decide_training(
    event: TrainingEvent, cause: Cause, roster: Roster, policy: Policy, now: datetime
) -> list[NotificationRequested]:
    """An officer's training assigned: the officer. Overdue or lapsed: the officer and their Kendra's
    in-charge too (who answers for the Kendra's staff being trained; a roster import assigns training to
    every officer posted, which is no news for the in-charge). Told whether on duty or not: a training
    notice waits in the bell until they are back."""
    if now - cause.at > TRAINING_NEWS:
        return []
    officer = roster.officers.get(event.service_number)
    kendra = event.kendra if isinstance(event, TrainingAssigned) else (officer.kendra if officer else "")
    recipients = [f"officer:{event.service_number}"]
    if kendra and isinstance(event, TrainingOverdue | CertificationLapsed):
        recipients += roster.level(LadderRole.KENDRA_INCHARGE, kendra)
    due_at: datetime | None = None
    modules: list[str] = []
    match event:
        case TrainingAssigned():
            rule, modules, due_at = NotificationRule.TRAINING_DUE, list(event.modules), event.due_at
        case TrainingOverdue():
            rule, modules, due_at = NotificationRule.TRAINING_OVERDUE, list(event.modules), event.due_at
        case RetrainingRequired():
            rule, modules, due_at = NotificationRule.TRAINING_DUE, [event.module_id], event.due_at
        case CertificationLapsed():
            rule = NotificationRule.CERTIFICATION_LAPSED
    about = TrainingFacts(event.service_number, roster.kendra_thana.get(kendra), kendra or None)
    return requests(rule, recipients, cause, about, policy, modules=modules, due_at=due_at)


def officer_or_incharge(case: CaseFacts, roster: Roster) -> list[str]:
    """The assigned officer; the Kendra's in-charge when there is none or they are away."""
    mine = roster.officer(case.officer) if case.officer else None
    if mine:
        return [mine]
    kendra = case.kendra or roster.kendra_of(case.thana)
    return roster.level(LadderRole.KENDRA_INCHARGE, kendra) if kendra else []


def holders_now(case: CaseFacts, roster: Roster) -> list[str]:
    """Whoever holds the case now: the level it was escalated to, else its officer or in-charge."""
    if case.level:
        return roster.level(*case.level)
    return officer_or_incharge(case, roster)


def page_offices(case: CaseFacts, roster: Roster) -> dict[LadderRole, str]:
    kendra = case.kendra or roster.kendra_of(case.thana)
    offices: dict[LadderRole, str | None] = {
        LadderRole.KENDRA_INCHARGE: kendra,
        LadderRole.SHO: case.thana,
        LadderRole.CO: case.circle,
        LadderRole.ADDL_SP: case.district,
        LadderRole.SP: case.district,
    }
    return {role: code for role, code in offices.items() if code}


def page(
    case: CaseFacts, roster: Roster, policy: Policy, *, round: int, at: datetime
) -> list[NotificationRequested]:
    """One round of a danger-now page: every level in ``danger_now.to`` and the level escalation has
    climbed to, on every channel of the rule.

    Nothing before the case has a place (routing's ``CaseRouted`` gives it one) or after the last round."""
    paging = policy.danger_now
    offices = page_offices(case, roster)
    if case.registration_id is None or not case.thana or round > paging.max_rounds:
        return []
    cause = Cause(case.registration_id, at)
    repeat_at = at + paging.repeat_every if round < paging.max_rounds else None
    # The levels of the policy, and the one escalation's ladder has climbed to since (until one of them
    # acknowledges, the page keeps telling whoever answers for the case now).
    paged = {role: offices.get(role) for role in paging.to}
    if case.level and case.level[0] not in paged and case.level[0] is not LadderRole.STATE_CELL:
        paged[case.level[0]] = case.level[1]
    out: list[NotificationRequested] = []
    for role, office in paged.items():
        if office is None:
            continue
        out += requests(
            NotificationRule.DANGER_NOW,
            roster.level(role, office),
            cause,
            case,
            policy,
            role=role,
            round=round,
            kendra=offices.get(LadderRole.KENDRA_INCHARGE),
            page_id=case.case_id,
            repeat_at=repeat_at,
        )
    return out


COMPLAINANT_STATUS: Mapping[type[Event], CaseStatus] = {
    FirstContactMade: CaseStatus.IN_PROGRESS,
    AwaitingComplainant: CaseStatus.AWAITING_COMPLAINANT,
    CaseResolved: CaseStatus.RESOLVED,
    CaseClosed: CaseStatus.CLOSED,
    CaseReopened: CaseStatus.IN_PROGRESS,
    CaseWithdrawn: CaseStatus.WITHDRAWN,
    CaseMarkedDuplicate: CaseStatus.DUPLICATE,
}
"""The status each of intake's events leaves a case in, as she is told it. Intake's own rule
(``next_status``) is not imported: a service never imports another. Her answer to the Kendra
(``ComplainantResponded``) and an action after first contact change nothing she needs telling."""


def tell_complainant(
    event: Event, cause: Cause, case: CaseFacts, roster: Roster, policy: Policy, phones: Mapping[str, str]
) -> list[NotificationRequested]:
    """An SMS to her, only while she consents (given at registration, not withdrawn since) and her
    identity is kept: the receipt once the case has a place (at registration, else when routing places
    it; both under the registration's id, so once), and each status change the policy names, not before
    the end of the policy's quiet hours for complainants when the change falls in them (the receipt is
    never held: it answers what she has just done). It is addressed to ``complainant:<case id>``: intake
    alone holds her phone. ``phones``: Kendra -> phone."""
    if not case.messages_consent or case.identity_erased:
        return []
    status: CaseStatus | None = None
    not_before: datetime | None = None
    match event:
        case CaseRegistered() | CaseRouted():
            # At registration when it named the thana, else when routing places the case: once.
            placed_now = case.thana_at_registration == isinstance(event, CaseRegistered)
            if not placed_now or case.registration_id is None:
                return []
            rule, cause = NotificationRule.COMPLAINANT_RECEIPT, Cause(case.registration_id, cause.at)
        case _:
            status = COMPLAINANT_STATUS.get(type(event))
            if status is None or status not in policy.complainant.statuses:
                return []
            rule = NotificationRule.COMPLAINANT_STATUS
            # Decided from the change's own time, so a decision made again is the same decision.
            quiet = policy.complainant.quiet_hours
            not_before = quiet_end(quiet.window(), cause.at) if quiet else None
    kendra = case.kendra or roster.kendra_of(case.thana)
    return requests(
        rule,
        [f"{COMPLAINANT}{case.case_id}"],
        cause,
        case,
        policy,
        kendra=kendra,
        case_status=status,
        language="en" if case.language == "en" else "hi",  # Urdu: the Hindi text (no Urdu template)
        kendra_phone=phones.get(kendra or ""),
        template_id=policy.sms_templates.get(rule),
        not_before=not_before,
    )


def channels_for(recipient: str, channels: Sequence[NotificationChannel]) -> list[NotificationChannel]:
    """An office is reached only in the web front (whoever signs in for it); an agency's desk on every
    channel (its staff sign in as ``agency_desk``, and its e-mail and phone are in the address book);
    a complainant only by SMS (she never signs in)."""
    if recipient.startswith(COMPLAINANT):
        return [c for c in channels if c is NotificationChannel.SMS]
    if recipient.startswith("office:"):
        return [c for c in channels if c is NotificationChannel.WEB]
    return list(channels)


def requests(
    rule: NotificationRule,
    recipients: Sequence[str],
    cause: Cause,
    about: CaseFacts | TrainingFacts,
    policy: Policy,
    *,
    round: int = 1,
    kendra: str | None = None,
    **details: object,
) -> list[NotificationRequested]:
    chosen = policy.rule(rule)
    subject: dict[str, object] = (
        {"case_id": about.case_id, "case_number": about.case_number, "district": about.district}
        if isinstance(about, CaseFacts)
        else {"service_number": about.service_number}
    )
    out: list[NotificationRequested] = []
    for recipient in dict.fromkeys(recipients):
        for channel in channels_for(recipient, chosen.channels):
            out.append(
                NotificationRequested.model_validate(
                    {
                        "notification_id": notification_id(cause.event_id, recipient, channel, round),
                        "rule": rule,
                        "channel": channel,
                        "recipient": recipient,
                        "cause_id": cause.event_id,
                        **subject,
                        "thana": about.thana,
                        "kendra": kendra or about.kendra,
                        "at": cause.at,
                        "urgent": chosen.urgent,
                        "round": round,
                        **details,
                    }
                )
            )
    return out


def leave_out_muted(
    wanted: Sequence[NotificationRequested], muted: Mapping[str, frozenset[NotificationChannel]]
) -> list[NotificationRequested]:
    """The requests less those on a channel their recipient turned off (``muted``: by recipient), for a
    message that is not urgent: such a message is never requested on that channel, so nothing is held,
    parked or put in the outbox for it. An urgent one goes on every channel, and a recipient the
    decision would then tell on no channel at all (a rule without the bell) keeps it: a message is never
    silently dropped."""

    def left_out(request: NotificationRequested) -> bool:
        return not request.urgent and request.channel in muted.get(request.recipient, frozenset())

    told = {(r.cause_id, r.recipient, r.round) for r in wanted if not left_out(r)}
    return [r for r in wanted if not left_out(r) or (r.cause_id, r.recipient, r.round) not in told]


INTERRUPTED = "interrupted"
"""The reason of a try cut short: its process stopped before the channel answered."""

NOT_YOURS = ("not_yours", "This notification is not addressed to you.", "यह सूचना आपके लिए नहीं है।")


class Notification(Aggregate):
    """One message to one recipient on one channel (``shakti.notifications.notification.<id>``)."""

    aggregate_type: ClassVar[str] = AGGREGATE

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.requested: NotificationRequested | None = None
        self.sent = False
        self.tries = 0
        self.parked = False
        self.acknowledged = False
        self.held_until: datetime | None = None
        self.interruptions = 0

    def apply(self, event: Event) -> None:
        match event:
            case NotificationRequested():
                self.requested = event
            case NotificationDeferred():
                self.held_until = event.until
            case NotificationReleased():
                self.held_until = None
            case NotificationSent():
                self.sent = True
                self.parked = False
            case NotificationFailed():
                self.tries += 1
                self.parked = event.parked
                self.interruptions += event.reason == INTERRUPTED
            case NotificationAcknowledged():
                self.acknowledged = True
            case NotificationRetried():
                self.parked = False

    @property
    def awaits_channel(self) -> bool:
        """Due to be handed to its channel by this service: asked for, not sent, held or parked. Not the
        bell's (sent as it is recorded) nor a complainant's (intake's to send: only intake opens her
        phone)."""
        wanted = self.requested
        return (
            wanted is not None
            and wanted.channel is not NotificationChannel.WEB
            and not wanted.recipient.startswith(COMPLAINANT)
            and not (self.sent or self.parked or self.held_until is not None)
        )

    def request(self, wanted: NotificationRequested, at: datetime) -> list[Event]:
        """Exactly once: a notification that exists already is not asked for again. One for the web
        front is delivered as it is recorded: the bell reads the record."""
        if self.exists:
            return []
        self.record(wanted)
        if wanted.channel is NotificationChannel.WEB:
            self.record(*self.deliver("web", at))
        elif wanted.not_before is not None and wanted.not_before > at:
            # Held in the same command: the quiet-hours worker releases it, nobody has to act.
            self.record(NotificationDeferred(notification_id=self.id, until=wanted.not_before, at=at))
        return self.recorded

    def deliver(self, via: str, at: datetime) -> list[Event]:
        wanted = self._wanted()
        if self.sent:
            return []
        return [
            NotificationSent(
                notification_id=self.id, channel=wanted.channel, via=via, attempts=self.tries + 1, at=at
            )
        ]

    def defer(self, until: datetime, at: datetime) -> list[Event]:
        """Hold a message that is not urgent until the recipient's quiet hours are over."""
        wanted = self._wanted()
        if self.sent or wanted.urgent or self.held_until == until:
            return []
        return [NotificationDeferred(notification_id=self.id, until=until, at=at)]

    def release(self, at: datetime) -> list[Event]:
        if self.held_until is None or self.held_until > at or self.sent:
            return []
        # Hers is sent by intake, from this event alone: it carries her request.
        wanted = self._wanted()
        hers = wanted if wanted.recipient.startswith(COMPLAINANT) else None
        return [NotificationReleased(notification_id=self.id, at=at, request=hers)]

    def fail(self, reason: str, at: datetime, *, park: bool) -> list[Event]:
        wanted = self._wanted()
        if self.sent:
            return []
        return [
            NotificationFailed(
                notification_id=self.id,
                channel=wanted.channel,
                attempt=self.tries + 1,
                reason=reason,
                parked=park,
                at=at,
            )
        ]

    def interrupt(self, at: datetime, *, tries_seen: int, attempts: int) -> list[Event]:
        """A delivery seen with ``tries_seen`` tries and no progress for longer than any running one can
        take was cut short (its process stopped before the channel answered): recorded as a failed try,
        which claims it for whoever records it. One cut short more often than the policy tries a message
        is parked, so that a message that stops every delivery does not come back for ever."""
        if not self.awaits_channel or self.tries != tries_seen:
            return []
        return self.fail(INTERRUPTED, at, park=self.interruptions + 1 > attempts)

    def retry(self, by: str, at: datetime) -> list[Event]:
        """A parked message is to be tried again (one not parked, or sent, is left as it is)."""
        wanted = self._wanted()
        if self.sent or not self.parked:
            return []
        return [NotificationRetried(notification_id=self.id, by=by, at=at, request=wanted)]

    def acknowledge(self, by: str, addresses: frozenset[str], at: datetime) -> list[Event]:
        wanted = self._wanted()
        if wanted.recipient not in addresses:
            raise DomainError(*NOT_YOURS)
        if self.acknowledged:
            return []
        return [NotificationAcknowledged(notification_id=self.id, by=by, at=at, page_id=wanted.page_id)]

    def _wanted(self) -> NotificationRequested:
        if self.requested is None:
            raise NotFound(Record.NOTIFICATION, self.id)
        return self.requested


QUIET_HOURS_INCOMPLETE = (
    "quiet_hours_incomplete",
    "Give both the start and the end of the quiet hours, or neither.",
    "शांत समय का आरंभ और अंत दोनों दें, या कोई नहीं।",
)
QUIET_HOURS_EMPTY = (
    "quiet_hours_empty",
    "The quiet hours must start and end at different times.",
    "शांत समय का आरंभ और अंत अलग-अलग होने चाहिए।",
)


class Preferences(Aggregate):
    """How one recipient wants to be told (``shakti.notifications.preferences.<preferences id>``)."""

    aggregate_type: ClassVar[str] = PREFERENCES

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.language: str | None = None
        self.quiet: tuple[time, time] | None = None
        self.muted: frozenset[NotificationChannel] = frozenset()
        """The channels turned off for messages that are not urgent (e-mail, SMS)."""

    def apply(self, event: Event) -> None:
        if isinstance(event, PreferencesChanged):
            self.language = event.language
            self.muted = frozenset(event.muted_channels)
            self.quiet = (
                (clock_time(event.quiet_from), clock_time(event.quiet_until))
                if event.quiet_from and event.quiet_until
                else None
            )

    def change(self, wanted: PreferencesChanged) -> list[Event]:
        if (wanted.quiet_from is None) != (wanted.quiet_until is None):
            raise DomainError(*QUIET_HOURS_INCOMPLETE)
        if wanted.quiet_from is not None and wanted.quiet_from == wanted.quiet_until:
            raise DomainError(*QUIET_HOURS_EMPTY)
        if (
            self.exists
            and self.language == wanted.language
            and self.quiet == _window(wanted)
            and self.muted == frozenset(wanted.muted_channels)
        ):
            return []
        return [wanted]

    def quiet_until(self, now: datetime) -> datetime | None:
        """When the quiet hours that ``now`` falls in end (they are read in IST); None: not quiet now."""
        return None if self.quiet is None else quiet_end(self.quiet, now)


def quiet_end(window: tuple[time, time], now: datetime) -> datetime | None:
    """When the quiet hours ``window`` (a start and an end in IST, which may pass midnight) that ``now``
    falls in end; None: ``now`` is not in them."""
    start, end = window
    local = now.astimezone(IST)
    today = local.time().replace(tzinfo=None)
    if start < end:
        quiet, days = start <= today < end, 0
    else:  # across midnight: 22:00 to 07:00
        quiet, days = today >= start or today < end, int(today >= start)
    if not quiet:
        return None
    return datetime.combine(local.date() + timedelta(days=days), end, tzinfo=IST)


def _window(wanted: PreferencesChanged) -> tuple[time, time] | None:
    if wanted.quiet_from is None or wanted.quiet_until is None:
        return None
    return clock_time(wanted.quiet_from), clock_time(wanted.quiet_until)
