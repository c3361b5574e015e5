"""The shape of the code itself (issue 13): no function outside the tests runs past 80 lines, so each
router, bench and service step reads as a few named parts rather than one long page.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE_PACKAGES = ("shared", "services", "shakti", "bench")
LONGEST_FUNCTION = 80
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
