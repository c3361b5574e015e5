"""The priority table: where a complaint starts, from its category and whether she is a minor.

Loaded once at start from YAML (``priority.yaml`` beside this file, or the file named by
``SHAKTI_INTAKE_PRIORITY_TABLE``), so a state order that changes priorities needs no code change.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.vocabulary import Category, Priority

DEFAULT_TABLE = Path(__file__).with_name("priority.yaml")

URGENCY = list(Priority)
"""Most urgent first."""


class PriorityTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    categories: dict[Category, Priority] = Field(min_length=1)
    minor_raise: int = Field(default=1, ge=0, le=len(URGENCY) - 1)

    def offers(self, category: Category) -> bool:
        return category in self.categories

    def priority(self, category: Category, *, minor: bool, danger_now: bool) -> Priority:
        if danger_now:
            return Priority.P1
        start = URGENCY.index(self.categories[category])
        raised = start - self.minor_raise if minor else start
        return URGENCY[max(raised, 0)]


def load_priority_table(path: Path | None = None) -> PriorityTable:
    """Read and check a table; a wrong file stops the service at start rather than misjudging cases."""
    source = path or DEFAULT_TABLE
    with source.open(encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    return PriorityTable.model_validate(raw)
