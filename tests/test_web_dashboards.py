"""The dashboards' own arithmetic, without a platform: which place a page focuses on."""

from __future__ import annotations

from typing import Any

from shakti.web.dashboards import find_place


def place(level: str, code: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {"level": level, "code": code, "children": list(children)}


# Shahjahanpur's Tilhar circle is named after its thana: both are SJP-TILHAR.
TREE = place(
    "state",
    "UP",
    place(
        "district",
        "SJP",
        place("circle", "SJP-TILHAR", place("thana", "SJP-KATRA"), place("thana", "SJP-TILHAR")),
    ),
)


def test_a_thana_named_like_its_circle_is_found_as_the_thana_and_the_circle_as_the_circle() -> None:
    thana = find_place(TREE, "thana", "SJP-TILHAR")
    circle = find_place(TREE, "circle", "SJP-TILHAR")
    assert thana is not None and thana["level"] == "thana" and thana["children"] == []
    assert circle is not None and circle["level"] == "circle" and len(circle["children"]) == 2


def test_a_place_not_in_the_tree_is_none() -> None:
    assert find_place(TREE, "thana", "SJP-ROZA") is None
    assert find_place(TREE, "circle", "SJP-KATRA") is None
