"""The curriculum and the certification rules, loaded from the YAML files in ``data/``.

Both are configuration: a new version of a module or a new pass mark is a change of a data file, not
of code. The loaded ``TrainingPolicy`` is what the aggregates consult when they decide.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.vocabulary import Category

DATA = Path(__file__).parent / "data"
CURRICULUM_FILE = DATA / "curriculum.yaml"
RULES_FILE = DATA / "certification.yaml"

MODULE_KINDS = ("sop", "igot_video", "assessment", "specialist")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModuleSpec(Frozen):
    id: str = Field(pattern=r"^[A-Z0-9-]{2,40}$")
    kind: str
    version: int = Field(ge=1)
    accepted_from_version: int = Field(default=1, ge=1)
    duration_minutes: int = Field(gt=0)
    title_hi: str = Field(min_length=1)
    title_en: str = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind not in MODULE_KINDS:
            raise ValueError(f"module {self.id}: kind must be one of {', '.join(MODULE_KINDS)}")
        if self.accepted_from_version > self.version:
            raise ValueError(f"module {self.id}: accepted_from_version is above version")
        return self


class Curriculum(Frozen):
    curriculum_version: str
    modules: list[ModuleSpec]

    @model_validator(mode="after")
    def _unique(self) -> Self:
        ids = [m.id for m in self.modules]
        if len(ids) != len(set(ids)):
            raise ValueError("a module id appears twice in the curriculum")
        return self


class Certification(Frozen):
    code: str
    title_hi: str
    title_en: str
    required_kinds: list[str] = Field(min_length=1)
    pass_marks: dict[str, float] = Field(default_factory=dict)
    valid_months: int = Field(ge=1)


class Renewal(Frozen):
    modules: list[str] = Field(min_length=1)
    window_days: int = Field(ge=1)
    due_days: int = Field(ge=1)


class Endorsements(Frozen):
    base: list[Category]
    categories: dict[Category, list[str]] = Field(default_factory=dict)


class Rules(Frozen):
    certification: Certification
    assignment_due_days: int = Field(ge=1)
    retraining_due_days: int = Field(ge=1)
    renewal: Renewal
    lapsing_within_days: int = Field(ge=1)
    endorsements: Endorsements


class PolicyError(ValueError):
    """The curriculum or the rules file is inconsistent; the service refuses to start on it."""


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, or the month's last day when that month is shorter."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class TrainingPolicy:
    """The curriculum with its certification rules: what counts, what certifies, for how long."""

    curriculum: Curriculum
    rules: Rules
    modules: Mapping[str, ModuleSpec] = field(init=False)
    required: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        modules = {m.id: m for m in self.curriculum.modules}
        object.__setattr__(self, "modules", modules)
        kinds = self.rules.certification.required_kinds
        object.__setattr__(self, "required", tuple(m.id for m in self.curriculum.modules if m.kind in kinds))
        referenced = [
            *self.rules.certification.pass_marks,
            *self.rules.renewal.modules,
            *(m for needed in self.rules.endorsements.categories.values() for m in needed),
        ]
        unknown = sorted({m for m in referenced if m not in modules})
        if unknown:
            raise PolicyError(f"the rules name modules the curriculum lacks: {', '.join(unknown)}")
        if not self.required:
            raise PolicyError("no module of the required kinds is in the curriculum")
        # A renewal window as long as the term would renew a certificate the day it is issued.
        if self.rules.renewal.window_days >= self.rules.certification.valid_months * 28:
            raise PolicyError("the renewal window must be shorter than the certificate's term")

    def module(self, module_id: str) -> ModuleSpec | None:
        return self.modules.get(module_id)

    def passes(self, module_id: str, version: int, score: float | None) -> bool:
        """An accepted version and, where the module has a pass mark, a score at or above it."""
        spec = self.modules.get(module_id)
        if spec is None or version < spec.accepted_from_version:
            return False
        mark = self.rules.certification.pass_marks.get(module_id)
        return mark is None or (score is not None and score >= mark)

    def endorsements(self, counting: set[str]) -> list[str]:
        """The categories an officer whose counting modules are ``counting`` may handle."""
        earned = [
            category
            for category, needed in self.rules.endorsements.categories.items()
            if all(m in counting for m in needed)
        ]
        return sorted({c.value for c in (*self.rules.endorsements.base, *earned)})

    def valid_until(self, issued_at: datetime) -> datetime:
        return add_months(issued_at, self.rules.certification.valid_months)

    def renewal_opens(self, valid_until: datetime) -> datetime:
        return valid_until - timedelta(days=self.rules.renewal.window_days)

    def assignment_due(self, posted_at: datetime) -> datetime:
        return posted_at + timedelta(days=self.rules.assignment_due_days)

    def retraining_due(self, published_at: datetime) -> datetime:
        return published_at + timedelta(days=self.rules.retraining_due_days)

    def renewal_due(self, expired_at: datetime) -> datetime:
        return expired_at + timedelta(days=self.rules.renewal.due_days)

    def lapsing_horizon(self, now: datetime) -> datetime:
        return now + timedelta(days=self.rules.lapsing_within_days)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PolicyError(f"cannot read {path}: {error}") from error


def load_policy(curriculum: Path = CURRICULUM_FILE, rules: Path = RULES_FILE) -> TrainingPolicy:
    try:
        return TrainingPolicy(
            Curriculum.model_validate(_read_yaml(curriculum)), Rules.model_validate(_read_yaml(rules))
        )
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        if isinstance(error, PolicyError):
            raise
        raise PolicyError(f"{curriculum.name} / {rules.name}: {error}") from error
