"""Synthetic complaints for the demo: random, plainly made-up people, every name marked DEMO.

The mix of channels and categories follows what Kendras report in practice (domestic violence and
family disputes most often, a few grave cases); nothing here describes a real person."""

from __future__ import annotations

import random
from dataclasses import dataclass

from shared.contracts.vocabulary import Category, Channel

GIVEN = ("Asha", "Meena", "Sunita", "Rekha", "Pooja", "Nisha", "Kavita", "Seema", "Anjali", "Geeta")
FAMILY = ("Demo-Verma", "Demo-Yadav", "Demo-Singh", "Demo-Gupta", "Demo-Khan", "Demo-Mishra")

CATEGORY_WEIGHTS: dict[Category, int] = {
    Category.DOMESTIC_VIOLENCE: 30,
    Category.FAMILY_DISPUTE: 20,
    Category.DOWRY_HARASSMENT: 10,
    Category.SEXUAL_HARASSMENT: 10,
    Category.CYBER_HARASSMENT: 8,
    Category.STALKING: 6,
    Category.MAINTENANCE_PROPERTY: 6,
    Category.MISSING_OR_KIDNAPPING: 3,
    Category.OFFENCE_AGAINST_MINOR: 2,
    Category.SEXUAL_ASSAULT: 2,
    Category.ACID_ATTACK: 1,
    Category.OTHER: 2,
}
CHANNEL_WEIGHTS: dict[Channel, int] = {
    Channel.WALK_IN: 40,
    Channel.HELPLINE_1090: 25,
    Channel.HELPLINE_181: 12,
    Channel.EMERGENCY_112: 10,
    Channel.ONLINE: 8,
    Channel.ONE_STOP_CENTRE: 4,
    Channel.SUO_MOTU: 1,
}
STATEMENTS = {
    Category.DOMESTIC_VIOLENCE: "DEMO: husband beats her after drinking; wants counselling first.",
    Category.FAMILY_DISPUTE: "DEMO: quarrels with in-laws over the house; asks for mediation.",
    Category.DOWRY_HARASSMENT: "DEMO: in-laws demand a motorcycle as dowry and threaten her.",
    Category.SEXUAL_HARASSMENT: "DEMO: a man passes remarks at her on the way to college.",
    Category.CYBER_HARASSMENT: "DEMO: a fake social media profile posts her photos.",
    Category.STALKING: "DEMO: a neighbour follows her to the bus stand every day.",
    Category.MAINTENANCE_PROPERTY: "DEMO: husband stopped paying maintenance for the children.",
    Category.MISSING_OR_KIDNAPPING: "DEMO: her daughter did not return from the market.",
    Category.OFFENCE_AGAINST_MINOR: "DEMO: a relative misbehaved with her minor niece.",
    Category.SEXUAL_ASSAULT: "DEMO: assaulted on the way back from the fields.",
    Category.ACID_ATTACK: "DEMO: threatened with acid by a rejected suitor.",
    Category.OTHER: "DEMO: wants to know her rights after separation.",
}


@dataclass(frozen=True)
class SyntheticComplaint:
    name: str
    phone: str
    address: str
    statement: str
    channel: Channel
    category: Category
    minor: bool
    danger_now: bool
    thana: str


def synthetic_complaints(thanas: list[str], count: int, seed: int = 2026) -> list[SyntheticComplaint]:
    """``count`` made-up complaints spread over ``thanas`` (the same for the same seed)."""
    rng = random.Random(seed)
    categories, category_weights = zip(*CATEGORY_WEIGHTS.items(), strict=True)
    channels, channel_weights = zip(*CHANNEL_WEIGHTS.items(), strict=True)
    out = []
    for i in range(count):
        category = rng.choices(categories, category_weights)[0]
        minor = category == Category.OFFENCE_AGAINST_MINOR or rng.random() < 0.08
        out.append(
            SyntheticComplaint(
                name=f"DEMO {rng.choice(GIVEN)} {rng.choice(FAMILY)}",
                # 555 numbers are not issued in India's mobile plan: a made-up number cannot ring anyone.
                phone=f"+91 55500 {i:05d}",
                address=f"DEMO house {rng.randint(1, 400)}, ward {rng.randint(1, 30)}",
                statement=STATEMENTS[category],
                channel=rng.choices(channels, channel_weights)[0],
                category=category,
                minor=minor,
                danger_now=category in (Category.ACID_ATTACK, Category.SEXUAL_ASSAULT) or rng.random() < 0.05,
                thana=rng.choice(thanas),
            )
        )
    return out
