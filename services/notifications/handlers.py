"""What the notifications service does on other services' events, and how a notification goes out.

Decisions: four durable consumers (intake's, routing's and escalation's case events, training's
officer events), shared by all replicas. Each reads the case's facts straight from the three case
streams (case number, places, officer, ladder level: no read model lag), the roster from the read
model, decides (``domain.decide``) and records each request under a command id derived from its
notification id: a redelivered event or a second replica stores nothing twice.

Delivery: one durable consumer on this service's own ``NotificationRequested``. A channel that fails
is tried again with backoff, each failure recorded, and the message is parked after the policy's last
try (``shakti notifications retry`` sends it again). While a message is retried its event stays
unacknowledged on the bus, so no other replica takes it up meanwhile (the policy keeps the retries
inside the bus's acknowledgement wait).

Channels turned off: a message that is not urgent is not requested on an e-mail or SMS its recipient
turned off (their preferences, read when the decision is recorded); the bell still shows it.

Quiet hours: a message that is not urgent, due on e-mail or SMS in its recipient's quiet hours (their
preferences), is held (``NotificationDeferred``) and released when they end (``NotificationReleased``,
once, whichever replica sees it first); the release comes back through the delivery consumer, so one
replica hands it over. The bell of the web front is silent: it always shows at once.

Workers: each ``Every`` job runs on a fixed beat: the danger-now pages whose next round is due and that
nobody acknowledged are repeated; held messages whose quiet hours are over are released.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from time import perf_counter
from typing import NamedTuple

from shared.aggregate import Repository, Store
from shared.clock import Clock
from shared.contracts.escalation import CaseEscalated, CaseWatchReopened, DeadlineApproaching, SlaBreached
from shared.contracts.intake import (
    AwaitingComplainant,
    CaseClosed,
    CaseMarkedDuplicate,
    CaseRegistered,
    CaseReopened,
    CaseResolved,
    CaseWithdrawn,
    ComplainantMessageFailed,
    ComplainantMessageSent,
    FirstContactMade,
    IdentityErased,
    MessagesConsentWithdrawn,
)
from shared.contracts.notifications import (
    COMPLAINANT,
    NotificationChannel,
    NotificationRequested,
    preferences_id,
)
from shared.contracts.routing import (
    CaseAssigned,
    CaseReassigned,
    CaseRouted,
    CaseUnassigned,
    ReferralIssued,
)
from shared.contracts.training import (
    CertificationLapsed,
    RetrainingRequired,
    TrainingAssigned,
    TrainingOverdue,
)
from shared.dispatch import Reactions, handles
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta
from shared.subscriber import ProcessManager

from .channels import Adapter, ChannelError, Contact, Outgoing
from .domain import (
    CaseFacts,
    Cause,
    Notification,
    Preferences,
    Roster,
    TrainingEvent,
    decide,
    decide_training,
    leave_out_muted,
    page,
    tell_complainant,
)
from .messages import Names, compose
from .policy import Policy

log = logging.getLogger(__name__)

ACTOR = "notifications"


PREFERENCES_SECONDS = 5.0
PREFERENCES_KEPT = 10_000
"""At most this many recipients' preferences are kept (about a district's officers)."""


class KeptPreferences:
    """Recipients' preferences, each read again after ``PREFERENCES_SECONDS``: a burst of messages to
    one person reads them once, and a change reaches their next message within that long."""

    def __init__(self, store: Store) -> None:
        self.preferences = Repository(store, Preferences)
        self._kept: dict[str, tuple[float, Preferences]] = {}

    async def of(self, recipient: str) -> Preferences:
        kept = self._kept.get(recipient)
        if kept is not None and time.monotonic() - kept[0] < PREFERENCES_SECONDS:
            return kept[1]
        found = await self.preferences.get(preferences_id(recipient))
        if len(self._kept) >= PREFERENCES_KEPT:
            self._kept.clear()
        self._kept[recipient] = (time.monotonic(), found)
        return found


class IntakeSays(NamedTuple):
    registration: Envelope
    consent: bool
    erased: bool


class NotRegisteredYet(LookupError):
    """Another service spoke of a case whose registration is not in intake's stream (retried, parked)."""


@dataclass(frozen=True)
class DeliveryFigures:
    """What the metrics and the benchmark read: time from the cause to the channel's hand-over."""

    channel: str
    outcome: str
    lag_seconds: float


Observe = Callable[[DeliveryFigures], None]
HandOver = Callable[[str, Notification | None], None]

CUT_SHORT_FACTOR = 1.25
CUT_SHORT_MARGIN = 1.0
"""A delivery that made no progress for a quarter more than the policy's longest, and a second, is
taken to be cut short (25.4 s with the default policy)."""


class Delivery:
    """Hands a requested notification to its channel's adapter: retries with backoff, then parks.

    The process that records a request (or a release, or an operator's retry) hands it over at once, in
    the background (``hand_over``): exactly one process stores it, so exactly one sends it. One whose
    process stopped before the channel answered is taken up by ``InterruptedDeliveries`` once it has
    made no progress for ``cut_short_after`` seconds; a delivery gives up before a try that could end
    later than that (its start held up by a busy process), and leaves the message to it."""

    def __init__(
        self,
        store: Store,
        policy: Policy,
        adapters: Mapping[NotificationChannel, Adapter],
        contacts: Mapping[str, Contact],
        names: Callable[[], Awaitable[Names]],
        clock: Clock,
        *,
        base_url: str = "",
        observe: Observe | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.notifications = Repository(store, Notification)
        self.preferences = KeptPreferences(store)
        self.policy = policy
        self.adapters = adapters
        self.contacts = contacts
        self.names = names
        self.clock = clock
        self.base_url = base_url
        self.observe = observe
        self.monotonic = monotonic
        self.cut_short_after = CUT_SHORT_FACTOR * policy.delivery.longest + CUT_SHORT_MARGIN
        """Seconds without progress after which a delivery is taken to be cut short: well beyond the
        longest its tries, timeouts and backoffs can take."""
        self.handing: set[asyncio.Task[bool]] = set()
        """The deliveries under way in this process (kept so that they are not collected mid-way)."""
        self.closing = False

    def hand_over(self, notification_id: str, known: Notification | None = None) -> None:
        """Deliver in the background, not in the caller's time: a gateway's timeouts and backoffs must
        not hold up the decisions. ``known``: the notification as just stored (no load). Once the
        service is stopping, nothing more is started: the messages wait for ``InterruptedDeliveries``."""
        if self.closing or (known is not None and not known.awaits_channel):
            return
        since = self.monotonic()
        task = asyncio.get_running_loop().create_task(self._deliver_reporting(notification_id, known, since))
        self.handing.add(task)
        task.add_done_callback(self.handing.discard)

    async def _deliver_reporting(
        self, notification_id: str, known: Notification | None, since: float
    ) -> bool:
        try:
            return await self.deliver(notification_id, known, since=since)
        except Exception:
            # Not lost: it still awaits its channel, and ``InterruptedDeliveries`` takes it up.
            log.exception("notification %s: delivery stopped; it is taken up again later", notification_id)
            return False

    async def settle(self) -> None:
        """Wait until no delivery is under way (a fast load settles before its clock moves)."""
        while self.handing:
            await asyncio.wait(set(self.handing))

    async def close(self, within: float) -> None:
        """A stop: no new delivery starts; those under way may end within ``within`` seconds, the rest
        are cancelled and taken up again after the restart."""
        self.closing = True
        if self.handing:
            _, pending = await asyncio.wait(set(self.handing), timeout=within)
            for task in pending:
                task.cancel()

    async def deliver(
        self, notification_id: str, known: Notification | None = None, *, since: float | None = None
    ) -> bool:
        """True when the notification is sent (now or before); False when it was parked, is held for
        the recipient's quiet hours, or was left to ``InterruptedDeliveries`` (``since``: when it was
        handed over, on ``monotonic``'s clock)."""
        started = self.monotonic() if since is None else since
        notification = known if known is not None else await self.notifications.get(notification_id)
        wanted = notification.requested
        if wanted is None or wanted.recipient.startswith(COMPLAINANT):
            return False  # hers is intake's to send (an operator's retry too): this service has no phone
        if notification.sent:
            return True
        if notification.held_until is not None or notification.parked:
            return False  # the release, or an operator's retry, brings it back here
        preferences = await self.preferences.of(wanted.recipient)
        now = self.clock.now()
        quiet_until = None if wanted.urgent else preferences.quiet_until(now)
        if quiet_until is not None:
            held = partial(Notification.defer, until=quiet_until, at=now)
            await self.notifications.execute(
                notification_id,
                held,
                self._meta(f"{notification_id}:held:{quiet_until.isoformat()}"),
                known=notification,
            )
            return False
        contact = self.contacts.get(wanted.recipient)
        if contact is not None and preferences.language:
            contact = contact.model_copy(update={"language": preferences.language})
        adapter = self.adapters[wanted.channel]
        outgoing = Outgoing(
            notification_id=notification_id,
            channel=wanted.channel,
            recipient=wanted.recipient,
            message=compose(wanted, await self.names(), self.base_url),
            contact=contact,
            template_id=self.policy.sms_templates.get(wanted.rule),
        )
        rules = self.policy.delivery
        for attempt in range(1, rules.attempts + 1):
            if self.monotonic() - started > self.cut_short_after - rules.timeout.total_seconds():
                log.warning(
                    "notification %s: too late for another try here; left to be taken up", notification_id
                )
                return False
            reason = await self._try(adapter, outgoing)
            now = self.clock.now()
            # The command id names the try: a redelivered request after a crash records each try once.
            tried = f"{notification_id}:{notification.tries + attempt}"
            # The first outcome is decided on the notification loaded above (a later one conflicts once
            # and loads: the failures recorded since are not in it).
            known = notification if attempt == 1 else None
            if reason is None:
                sent = partial(Notification.deliver, via=adapter.via, at=now)
                await self.notifications.execute(
                    notification_id, sent, self._meta(f"{tried}:sent"), known=known
                )
                self._observe(wanted, "sent")
                return True
            last = attempt == rules.attempts
            failure = partial(Notification.fail, reason=reason, at=now, park=last)
            await self.notifications.execute(
                notification_id, failure, self._meta(f"{tried}:failed"), known=known
            )
            log.warning(
                "notification %s on %s failed (%s), try %d of %d",
                notification_id,
                wanted.channel,
                reason,
                attempt,
                rules.attempts,
            )
            if last:
                self._observe(wanted, "parked")
                return False
            await asyncio.sleep(rules.backoff(attempt))
        return False

    async def _try(self, adapter: Adapter, outgoing: Outgoing) -> str | None:
        try:
            await asyncio.wait_for(adapter.send(outgoing), self.policy.delivery.timeout.total_seconds())
        except ChannelError as error:
            return error.reason
        except TimeoutError:
            return "timeout"
        return None

    def _meta(self, command_id: str) -> CommandMeta:
        return CommandMeta(command_id=command_id, actor=ACTOR, occurred_at=self.clock.now())

    def _observe(self, wanted: NotificationRequested, outcome: str) -> None:
        if self.observe is not None:
            lag = (self.clock.now() - wanted.at).total_seconds()
            self.observe(DeliveryFigures(wanted.channel.value, outcome, lag))


class CaseEvents(Reactions):
    """The decisions: other services' case events -> notification requests."""

    def __init__(
        self,
        store: Store,
        policy: Policy,
        roster: Callable[[], Awaitable[Roster]],
        clock: Clock,
        kendra_phones: Mapping[str, str] | None = None,
        hand_over: HandOver | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.roster = roster
        self.clock = clock
        self.kendra_phones = kendra_phones or {}
        """Kendra code -> the phone a complainant is given (contacts file, ``kendra:<code>``)."""
        self.hand_over = hand_over
        """Where a request this process stored goes to be delivered (none: recorded only)."""
        self.notifications = Repository(store, Notification)
        self.preferences = KeptPreferences(store)

    def process_managers(self) -> list[ProcessManager]:
        return [
            ProcessManager(
                name="notifications_on_intake",
                stream="INTAKE",
                subject="shakti.intake.case.*",
                react=self,
                description="Pages the Kendra in-charge and the SHO on a danger-now registration; "
                "tells a complainant who agreed to SMS of her receipt and status changes.",
            ),
            ProcessManager(
                name="notifications_on_routing",
                stream="ROUTING",
                subject="shakti.routing.case.*",
                react=self,
                description="Tells the officer of an assignment and the agency's desk of a referral.",
            ),
            ProcessManager(
                name="notifications_on_escalation",
                stream="ESCALATION",
                subject="shakti.escalation.case.*",
                react=self,
                description="Tells whoever holds the case of warnings, breaches and escalations.",
            ),
            ProcessManager(
                name="notifications_on_training",
                stream="TRAINING",
                subject="shakti.training.officer.*",
                react=self,
                description="Tells an officer and their in-charge of training due, overdue or lapsed.",
            ),
        ]

    @handles(CaseRegistered)
    async def registered(self, event: CaseRegistered, cause: Envelope) -> None:
        if event.danger_now:
            await self._decide(event, cause, cause.aggregate_id)
        if event.consent_to_messages:
            await self._tell_complainant(event, cause, cause.aggregate_id)

    @handles(
        FirstContactMade,
        AwaitingComplainant,
        CaseResolved,
        CaseClosed,
        CaseReopened,
        CaseWithdrawn,
        CaseMarkedDuplicate,
    )
    async def status_changed(self, event: Event, cause: Envelope) -> None:
        await self._tell_complainant(event, cause, cause.aggregate_id)

    @handles(ComplainantMessageSent, ComplainantMessageFailed)
    async def complainant_outcome(
        self, event: ComplainantMessageSent | ComplainantMessageFailed, cause: Envelope
    ) -> None:
        """Intake sent her SMS (it alone holds her phone), or a try failed: shown on the notification
        as if this service's channel had done it, once per outcome (the command id names the cause)."""
        meta = CommandMeta.reacting_to(cause, ACTOR, "complainant-outcome").model_copy(
            update={"occurred_at": event.at}
        )
        if isinstance(event, ComplainantMessageSent):
            sent = partial(Notification.deliver, via=event.via, at=event.at)
            await self.notifications.execute(event.notification_id, sent, meta)
        else:
            failed = partial(Notification.fail, reason=event.reason, at=event.at, park=event.parked)
            await self.notifications.execute(event.notification_id, failed, meta)

    async def _tell_complainant(self, event: Event, cause: Envelope, case_id: str) -> None:
        # Her consent and erasure are read from intake's stream now, not from the event: a withdrawal
        # recorded since stops what is still to be decided. Without them there is nothing to decide, and
        # routing's and escalation's streams are not read.
        intake = await self._intake_says(case_id)
        if not intake.consent or intake.erased:
            return
        facts = await self.facts(case_id, intake)
        at = Cause(str(cause.event_id), cause.occurred_at)
        roster = await self.roster()
        await self.record(tell_complainant(event, at, facts, roster, self.policy, self.kendra_phones), cause)

    @handles(CaseAssigned, CaseReassigned, ReferralIssued)
    async def routed_case(
        self, event: CaseAssigned | CaseReassigned | ReferralIssued, cause: Envelope
    ) -> None:
        await self._decide(event, cause, event.case_id)

    @handles(CaseRouted)
    async def routed(self, event: CaseRouted, cause: Envelope) -> None:
        """A danger-now case registered without a thana is paged once routing has placed it (and a
        complainant who agreed to SMS is sent her receipt, naming the Kendra)."""
        facts = await self.facts(event.case_id)
        if facts.messages_consent and not facts.thana_at_registration:
            roster = await self.roster()
            placed = Cause(str(cause.event_id), cause.occurred_at)
            await self.record(
                tell_complainant(event, placed, facts, roster, self.policy, self.kendra_phones), cause
            )
        if not facts.danger_now or facts.thana_at_registration or facts.registration_id is None:
            return
        at = cause.occurred_at
        await self.record(page(facts, await self.roster(), self.policy, round=1, at=at), cause)

    @handles(DeadlineApproaching, SlaBreached, CaseEscalated)
    async def escalation(
        self, event: DeadlineApproaching | SlaBreached | CaseEscalated, cause: Envelope
    ) -> None:
        await self._decide(event, cause, event.case_id)

    @handles(TrainingAssigned, RetrainingRequired, TrainingOverdue, CertificationLapsed)
    async def training(self, event: TrainingEvent, cause: Envelope) -> None:
        at = Cause(str(cause.event_id), cause.occurred_at)
        wanted = decide_training(event, at, await self.roster(), self.policy, self.clock.now())
        await self.record(wanted, cause)

    async def _decide(self, event: Event, cause: Envelope, case_id: str) -> None:
        facts = await self.facts(case_id)
        wanted = decide(
            event, Cause(str(cause.event_id), cause.occurred_at), facts, await self.roster(), self.policy
        )
        await self.record(wanted, cause)

    async def record(self, wanted: Sequence[NotificationRequested], cause: Envelope | None = None) -> None:
        decided = len(wanted)
        wanted = leave_out_muted(wanted, await self._muted(wanted))
        if len(wanted) < decided:
            # Not an error and not silent: the recipient's PreferencesChanged on the stream says why.
            log.info("%d message(s) not requested on a channel turned off", decided - len(wanted))

        async def one(request: NotificationRequested) -> None:
            meta = CommandMeta(
                command_id=f"request:{request.notification_id}",
                actor=ACTOR,
                correlation_id=cause.correlation_id if cause else None,
                causation_id=cause.event_id if cause else None,
                occurred_at=self.clock.now(),
            )
            # Taken to be new, so its first append loads nothing. A redelivered cause or another replica's
            # page round stores nothing, and so hands nothing over: one sender per message.
            stored = await self.notifications.execute_once(
                request.notification_id,
                lambda n: n.request(request, self.clock.now()),
                meta,
                known=Notification(request.notification_id),
            )
            if stored and self.hand_over is not None:
                self.hand_over(request.notification_id, Notification.replay(request.notification_id, stored))

        await asyncio.gather(*(one(r) for r in wanted))

    async def _muted(
        self, wanted: Sequence[NotificationRequested]
    ) -> dict[str, frozenset[NotificationChannel]]:
        """The channels each person told of something not urgent by e-mail or SMS turned off (an office
        or an agency's desk has no preferences: nobody signs in as one to choose)."""
        people = {
            r.recipient
            for r in wanted
            if not r.urgent
            and r.channel is not NotificationChannel.WEB
            and r.recipient.startswith(("officer:", "user:"))
        }
        return {recipient: (await self.preferences.of(recipient)).muted for recipient in sorted(people)}

    async def _intake_says(self, case_id: str) -> IntakeSays:
        """The case's registration, and whether she consents to messages and keeps her identity now."""
        registration: Envelope | None = None
        consent, erased = False, False
        for envelope in await self.store.load("case", case_id, service="intake"):
            if envelope.event_type == CaseRegistered.event_type:
                registration = envelope
                registered_now = envelope.event()
                consent = isinstance(registered_now, CaseRegistered) and registered_now.consent_to_messages
            elif envelope.event_type == MessagesConsentWithdrawn.event_type:
                consent = False
            elif envelope.event_type == IdentityErased.event_type:
                erased = True
        if registration is None:
            raise NotRegisteredYet(f"case {case_id} has no CaseRegistered in the INTAKE stream")
        return IntakeSays(registration, consent, erased)

    async def facts(self, case_id: str, intake: IntakeSays | None = None) -> CaseFacts:
        """What the three streams say about the case now: number and places, officer, ladder level."""
        registration, consent, erased = intake or await self._intake_says(case_id)
        registered = registration.event()
        assert isinstance(registered, CaseRegistered)
        place: dict[str, str | None] = {
            "district": registered.district,
            "circle": registered.circle,
            "thana": registered.thana,
            "kendra": None,
        }
        officer: str | None = None
        for envelope in await self.store.load("case", case_id, service="routing"):
            match envelope.event():
                case CaseRouted() as routed:
                    place = {
                        "district": routed.district,
                        "circle": routed.circle,
                        "thana": routed.thana,
                        "kendra": routed.kendra,
                    }
                case CaseAssigned() | CaseReassigned() as assigned:
                    officer = assigned.officer
                case CaseUnassigned():
                    officer = None
        level = None
        for envelope in await self.store.load("case", case_id, service="escalation"):
            match envelope.event():
                case CaseEscalated() as escalated:
                    level = (escalated.role, escalated.office_code)
                case CaseWatchReopened():
                    level = None
        return CaseFacts(
            case_id=case_id,
            case_number=registered.case_number,
            district=place["district"] or registered.district,
            circle=place["circle"],
            thana=place["thana"],
            kendra=place["kendra"],
            officer=officer,
            level=level,
            danger_now=registered.danger_now,
            registration_id=str(registration.event_id),
            thana_at_registration=registered.thana is not None,
            messages_consent=consent,
            identity_erased=erased,
            language=registered.language,
        )


class Every:
    """A job of the service run on a fixed beat for as long as the service runs."""

    def __init__(self, job: Callable[[], Awaitable[int]], seconds: float) -> None:
        self.job = job
        self.seconds = seconds

    async def run(self) -> None:
        while True:
            started = perf_counter()
            await self.job()
            await asyncio.sleep(max(0.0, self.seconds - (perf_counter() - started)))


class PageWorker:
    """Repeats each due danger-now page that nobody acknowledged, to whoever is on duty then."""

    def __init__(
        self,
        decisions: CaseEvents,
        due: Callable[[datetime], Awaitable[Sequence[tuple[str, int, Sequence[str]]]]],
        clock: Clock,
    ) -> None:
        self.decisions = decisions
        self.due = due
        self.clock = clock

    async def repeat_due(self) -> int:
        now = self.clock.now()
        repeated = 0
        for page_id, round, last_round in await self.due(now):
            # The read model may lag an acknowledgement by a moment: the aggregates do not.
            previous = [await self.decisions.notifications.get(i) for i in last_round]
            if any(n.acknowledged for n in previous):
                continue
            facts = await self.decisions.facts(page_id)
            wanted = page(
                facts, await self.decisions.roster(), self.decisions.policy, round=round + 1, at=now
            )
            await self.decisions.record(wanted)
            repeated += bool(wanted)
        return repeated


class QuietHoursOver:
    """Releases each message held for quiet hours that are over now."""

    def __init__(
        self,
        delivery: Delivery,
        held: Callable[[datetime], Awaitable[Sequence[tuple[str, datetime]]]],
        clock: Clock,
    ) -> None:
        self.delivery = delivery
        self.held = held
        self.clock = clock

    async def release_due(self) -> int:
        now = self.clock.now()
        released = 0
        for notification_id, until in await self.held(now):
            # One release per hold, whichever replica comes first: the command id names the hold.
            meta = CommandMeta(
                command_id=f"{notification_id}:released:{until.isoformat()}", actor=ACTOR, occurred_at=now
            )
            stored = await self.delivery.notifications.execute_once(
                notification_id, partial(Notification.release, at=now), meta
            )
            if stored:
                self.delivery.hand_over(notification_id)
                released += 1
        return released


class InterruptedDeliveries:
    """Takes up the deliveries whose process stopped before the channel answered (a crash, a stop that
    could not wait). Each look lists the messages the read model shows waiting for a channel; one shown
    the same (state and tries) for ``cut_short_after`` seconds of this process's own time (not the
    service's clock, which a historical load moves in leaps) is recorded as an interrupted try by one
    replica, which sends it."""

    def __init__(
        self, delivery: Delivery, waiting: Callable[[], Awaitable[Sequence[tuple[str, str, int]]]]
    ) -> None:
        self.delivery = delivery
        self.waiting = waiting
        self.seen: dict[str, tuple[str, int, float]] = {}
        """Notification id -> its state and tries as last listed, and since when (``monotonic``)."""

    async def resume_due(self) -> int:
        now = self.delivery.monotonic()
        listed = {i: (state, tries) for i, state, tries in await self.waiting()}
        self.seen = {
            i: (state, tries, self.seen[i][2] if self.seen.get(i, ("", -1))[:2] == (state, tries) else now)
            for i, (state, tries) in listed.items()
        }
        resumed = 0
        for notification_id, (_, tries, since) in list(self.seen.items()):
            if now - since > self.delivery.cut_short_after and await self._resume(notification_id, tries):
                resumed += 1
        return resumed

    async def _resume(self, notification_id: str, tries: int) -> bool:
        notifications = self.delivery.notifications
        found = await notifications.get(notification_id)
        now = self.delivery.clock.now()
        # The id names the version: of two replicas looking at once, one stores it (the other's repeat is
        # refused), and a notification that moved meanwhile is decided again on what it is now.
        meta = CommandMeta(
            command_id=f"{notification_id}:interrupted:{found.version}", actor=ACTOR, occurred_at=now
        )
        attempts = self.delivery.policy.delivery.attempts
        interrupted = partial(Notification.interrupt, at=now, tries_seen=tries, attempts=attempts)
        stored = await notifications.execute_once(notification_id, interrupted, meta, known=found)
        self.seen.pop(notification_id, None)
        if not stored:
            return False
        for envelope in stored:
            found.apply(envelope.event())
        if found.parked:
            log.error("notification %s: cut short more often than it is tried; parked", notification_id)
            return False
        log.warning("notification %s: its delivery was cut short; sending it again", notification_id)
        self.delivery.hand_over(notification_id)
        return True
