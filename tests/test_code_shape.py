"""The shape of the code, read from the source without running it."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("shared", "services", "shakti", "bench")
LABEL_HOME = "shared/contracts/"


def label_tables(source: str) -> list[str]:
    """The module-level names ending in ``_LABELS`` that a module assigns (an import is not a table)."""
    names: list[str] = []
    for statement in ast.parse(source).body:
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        if isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id.endswith("_LABELS")]
    return names


def label_table_problems(modules: Iterable[tuple[str, str]]) -> list[str]:
    """Label tables written outside the shared contracts, or more than once: each table of words lives
    once in ``shared/contracts/`` so that a page, a timeline and a message never name a thing two ways."""
    homes: dict[str, list[str]] = {}
    for path, source in modules:
        for name in label_tables(source):
            homes.setdefault(name, []).append(path)
    problems = [
        f"{name} in {path}: label tables belong in {LABEL_HOME}"
        for name, paths in homes.items()
        for path in paths
        if not path.startswith(LABEL_HOME)
    ]
    problems += [
        f"{name} written {len(paths)} times: {', '.join(paths)}"
        for name, paths in homes.items()
        if len(paths) > 1
    ]
    return sorted(problems)


def project_modules() -> list[tuple[str, str]]:
    return [
        (path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


def test_every_label_table_is_written_once_in_the_shared_contracts() -> None:
    assert label_table_problems(project_modules()) == []


def test_the_label_table_check_finds_a_table_elsewhere_and_a_table_written_twice() -> None:
    assert label_table_problems(
        [
            ("shared/contracts/vocabulary.py", "CLOCK_LABELS: dict[str, tuple[str, str]] = {}\nX = 1\n"),
            ("services/notifications/messages.py", "from x import ROLE_LABELS\nCLOCK_LABELS = {}\n"),
            ("shared/contracts/notifications.py", "RULE_LABELS = {}\n"),
        ]
    ) == [
        "CLOCK_LABELS in services/notifications/messages.py: label tables belong in shared/contracts/",
        "CLOCK_LABELS written 2 times: shared/contracts/vocabulary.py, services/notifications/messages.py",
    ]
