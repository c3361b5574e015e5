"""The checked-in API documents: ``docs/openapi.json`` (HTTP) and ``docs/asyncapi.json`` (events).

The OpenAPI document needs the services started (their routes mount when they start), so it is
made against a throw-away embedded NATS server and throw-away SQLite files.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from shakti.asyncapi import asyncapi_text
from shakti.basics import SERVICES
from shakti.config import PlatformSettings
from shakti.platform import build_platform, runners
from shared.keys import init_keys
from shared.natsserver import EmbeddedNatsServer

DOCS = Path(__file__).resolve().parent.parent / "docs"


def document_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def started_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of an app whose services have started."""
    app.openapi_schema = None
    document: dict[str, Any] = app.openapi()
    return document


async def openapi_text() -> str:
    with tempfile.TemporaryDirectory() as folder, EmbeddedNatsServer(Path(folder) / "nats") as server:
        settings = PlatformSettings(data_dir=Path(folder), keys_dir=Path(folder) / "keys")
        init_keys(settings)
        app = build_platform(settings, runners(settings, server.url, SERVICES))
        async with app.router.lifespan_context(app):
            return document_text(started_openapi(app))


async def write_docs(folder: Path = DOCS) -> list[Path]:
    written = []
    for name, text in (("openapi.json", await openapi_text()), ("asyncapi.json", asyncapi_text())):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
