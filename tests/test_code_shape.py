"""The shape of the code itself (issue 13), read from the source without running it: no function
outside the tests runs past 80 lines, so each router, bench and service step reads as a few named parts
rather than one long page; and every table of words is written once, in the shared contracts.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE_PACKAGES = ("shared", "services", "shakti", "bench")
LONGEST_FUNCTION = 80
LABEL_HOME = "shared/contracts/"
_SKIPPED_FOLDERS = {"tests", ".venv", "__pycache__"}


def code_files(root: Path) -> Iterator[Path]:
    """Every .py file of the packages' code under ``root``: their tests are left out."""
    for package in CODE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if not _SKIPPED_FOLDERS.intersection(path.relative_to(root).parts):
                yield path


def long_functions(path: Path, root: Path, limit: int = LONGEST_FUNCTION) -> list[str]:
    """``path:name:lines`` for each function (nested ones too) whose ``def`` to last line exceeds ``limit``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                found.append(f"{path.relative_to(root)}:{node.name}:{lines}")
    return found


def test_no_function_outside_the_tests_is_over_80_lines() -> None:
    too_long = [name for path in code_files(ROOT) for name in long_functions(path, ROOT)]
    assert too_long == [], "functions over 80 lines, split them along their seams:\n" + "\n".join(too_long)


def test_the_length_check_catches_a_long_function(tmp_path: Path) -> None:
    package = tmp_path / "services" / "sample"
    package.mkdir(parents=True)
    body = "".join(f"    step_{n} = {n}\n" for n in range(80))
    (package / "long.py").write_text(f"def short() -> None:\n    pass\n\n\ndef too_long() -> None:\n{body}")
    (package / "tests").mkdir()
    (package / "tests" / "test_long.py").write_text(f"def test_long() -> None:\n{body}")

    assert [path.relative_to(tmp_path).as_posix() for path in code_files(tmp_path)] == [
        "services/sample/long.py"
    ]
    assert long_functions(package / "long.py", tmp_path) == ["services/sample/long.py:too_long:81"]


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
        (path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")) for path in code_files(ROOT)
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
