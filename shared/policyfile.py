"""Policy files: YAML documents validated into a pydantic model, every problem named with its field.

The escalation and notification policies are read the same way (a file an operator edits, a model
that says what is allowed); what differs is only the model and the word for the policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names every problem and its field."""


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(file)"


def parse_policy_document(model: type[M], document: Any, source: str, what: str) -> M:
    """A validated ``model`` from an already parsed document; PolicyError lists every problem."""
    if not isinstance(document, dict):
        raise PolicyError(f"{source}: the policy must be a mapping of fields, not {type(document).__name__}")
    try:
        return model.model_validate(document)
    except ValidationError as error:
        lines = [
            f"  {_field(problem['loc'])}: {problem['msg'].removeprefix('Value error, ')}"
            for problem in error.errors()
        ]
        raise PolicyError(f"{source} is not a valid {what}:\n" + "\n".join(lines)) from None


def load_policy_file(model: type[M], path: Path, what: str) -> M:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PolicyError(f"{path}: cannot read the policy file ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise PolicyError(f"{path}: not valid YAML ({error})") from None
    return parse_policy_document(model, document, str(path), what)
