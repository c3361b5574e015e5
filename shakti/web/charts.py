"""Charts as inline SVG, drawn on the server: nothing to download, readable on a small phone."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup

from shared.contracts.vocabulary import CATEGORY_LABELS, label

WIDTH = 640
BAR_HEIGHT = 22
LABEL_WIDTH = 180


def bars(
    items: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    title: str = "",
    maximum: float | None = None,
    decimals: int = 0,
) -> Markup:
    """Horizontal bars, one per (label, value): for comparing places (breaches by thana, compliance)."""
    if not items:
        return Markup("")
    top = maximum if maximum is not None else max((v for _, v in items), default=0.0) or 1.0
    span = WIDTH - LABEL_WIDTH - 60
    height = BAR_HEIGHT * len(items) + 8
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        f'preserveAspectRatio="xMinYMin meet" width="100%">'
    ]
    for i, (name, value) in enumerate(items):
        y = i * BAR_HEIGHT + 4
        length = max(0.0, min(value / top, 1.0)) * span if top else 0.0
        shown = f"{value:.{decimals}f}{unit}"
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 14}" text-anchor="end">{escape(name)[:32]}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 2}" width="{length:.1f}" height="{BAR_HEIGHT - 6}" '
            'fill="#7a1f5c"/>'
            f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{y + 14}">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(items: Sequence[tuple[str, float]], *, title: str = "") -> Markup:
    """Vertical columns over time (cases per day or week), labels under every few columns."""
    if not items:
        return Markup("")
    height, bottom, left = 180, 24, 30
    top = max((v for _, v in items), default=0.0) or 1.0
    step = (WIDTH - left) / len(items)
    every = max(1, len(items) // 8)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        f'preserveAspectRatio="xMinYMin meet" width="100%">',
        f'<text x="0" y="12">{top:.0f}</text><text x="0" y="{height - bottom}">0</text>',
    ]
    for i, (name, value) in enumerate(items):
        h = (value / top) * (height - bottom - 16)
        x = left + i * step
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{height - bottom - h:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="#7a1f5c"><title>{escape(name)}: {value:.0f}</title></rect>'
        )
        if i % every == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 6}">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


# What the pages feed the charts: (label, value) pairs from the services' answers.


def breach_items(
    breaches: Sequence[tuple[str, Sequence[int]]],
    names: dict[str, dict[str, str]] | None = None,
    lang: str = "en",
) -> list[tuple[str, float]]:
    """A bar a thana, labelled with its name in the page's language where the tree names it."""
    named = names or {}
    return [(named.get(place, {}).get(lang, place), float(breached)) for place, (_, breached) in breaches]


def first_contact_items(
    hours: Sequence[tuple[str, float]], names: dict[str, dict[str, str]], lang: str
) -> list[tuple[str, float]]:
    """A bar a thana: its median hours to first contact, labelled with its name in the page's language."""
    return [(names.get(place, {}).get(lang, place), float(p50)) for place, p50 in hours]


def compliance_items(places: Sequence[dict[str, Any]], lang: str) -> list[tuple[str, float]]:
    return [
        (p["name_hi"] if lang == "hi" else p["name_en"], 100.0 * (p.get("certified_share") or 0.0))
        for p in places
    ]


def state_items(districts: Sequence[tuple[str, dict[str, Any]]], lang: str) -> list[tuple[str, float]]:
    return [
        (
            d["name_hi"] if lang == "hi" else d["name_en"],
            100.0 * d["breached"] / d["decided"] if d["decided"] else 0.0,
        )
        for _, d in districts
    ]


def category_items(counts: dict[str, int], lang: str) -> list[tuple[str, float]]:
    return [
        (label(CATEGORY_LABELS, code, lang), float(n))
        for code, n in sorted(counts.items(), key=lambda i: -i[1])
    ]
