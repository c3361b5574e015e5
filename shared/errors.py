"""The refusals a person can meet, each with an English and a Hindi message safe to show an officer.

``DomainError`` is a broken rule of the domain (HTTP 409), ``NotFound`` a record that does not exist
or is out of the caller's reach (HTTP 404: the same answer for both, so that nobody learns what lies
outside their jurisdiction), ``IdempotencyConflict`` a reused idempotency key (HTTP 409),
``ReadModelBehind`` a command that cannot be decided yet (HTTP 503 with Retry-After).
"""

from __future__ import annotations

from shared.contracts.vocabulary import FEMININE_RECORDS, RECORD_LABELS, Record


class DomainError(ValueError):
    """A command broke a rule of the domain. Carries a bilingual message safe to show an officer."""

    def __init__(self, code: str, en: str, hi: str) -> None:
        super().__init__(en)
        self.code = code
        self.en = en
        self.hi = hi


class NotFound(DomainError):
    def __init__(self, what: Record, key: str) -> None:
        hi, en = RECORD_LABELS[what]
        found = "मिली" if what in FEMININE_RECORDS else "मिला"
        super().__init__("not_found", f"{en} {key} not found", f"{hi} {key} नहीं {found}")


class CaseNotFound(NotFound):
    """A case that does not exist, or lies outside the caller's jurisdiction: every service gives the
    same answer for both, so that nobody learns of a case beyond their reach."""

    def __init__(self, case_id: str) -> None:
        super().__init__(Record.CASE, case_id)


class IdempotencyConflict(DomainError):
    """The idempotency key was used before for a different request: nothing is stored."""

    def __init__(self) -> None:
        super().__init__(
            "idempotency_key_reused",
            "This Idempotency-Key was already used for a different request; nothing was recorded. "
            "Send a new key for a new request (repeat the same request unchanged to get its first answer).",
            "यह Idempotency-Key पहले किसी दूसरे अनुरोध के लिए प्रयोग हो चुकी है; कुछ दर्ज नहीं हुआ। नए अनुरोध "
            "के लिए नई key भेजें (पहला उत्तर पाने के लिए वही अनुरोध बिना बदले दोहराएँ)।",
        )


class TryAgain(Exception):
    """Not now, but the same request will do later: answered 503 with ``Retry-After``, so that a
    client, or a phone's offline queue, sends it again, where a 4xx would make it drop it."""

    retry_after = 1
    code = "try_again"
    en = "The service cannot answer this at the moment; try again in a moment."
    hi = "सेवा अभी इसका उत्तर नहीं दे सकती; थोड़ी देर में फिर प्रयास करें।"


class Busy(TryAgain):
    """As many costly readings run as the service allows at once (each takes a share of a process
    that also registers complaints); this one waited its turn long enough."""

    code = "busy"
    en = "Too many such requests are being answered right now; try again in a moment."
    hi = "अभी ऐसे बहुत से अनुरोधों का उत्तर दिया जा रहा है; थोड़ी देर में फिर प्रयास करें।"


class ReadModelBehind(TryAgain):
    """A read model the command consults has not yet applied events already stored (just after a
    restart, during a catch-up): what it lacks might be there, so no refusal would be true."""

    code = "read_model_behind"

    def __init__(self, read_model: str) -> None:
        self.read_model = read_model
        self.en = (
            "The service is catching up after a restart and cannot decide this yet; try again in a moment."
        )
        self.hi = "सेवा पुनः आरंभ के बाद अद्यतन हो रही है और अभी यह तय नहीं कर सकती; थोड़ी देर में फिर प्रयास करें।"
        super().__init__(f"{read_model}: {self.en}")
