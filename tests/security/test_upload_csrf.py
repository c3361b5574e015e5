"""A file sent from a page (multipart form) is checked for its form token like any other form: a page's
upload without the token, or with another session's, is refused before the page's code runs."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request

from shared.auth import COOKIE
from shared.http_guard import CSRF_FIELD, HttpGuard, csrf_token

SESSION = "a-session-cookie-value"


def guarded() -> HttpGuard:
    app = FastAPI()

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        form = await request.form()
        sent = form["file"]
        assert not isinstance(sent, str)
        return {"bytes": len(await sent.read())}

    return HttpGuard(app, secure_cookies=False, body_limit=10_000, upload_limit=100_000)


async def send(token: str | None) -> httpx.Response:
    transport = httpx.ASGITransport(app=guarded())
    async with httpx.AsyncClient(transport=transport, base_url="http://platform") as client:
        return await client.post(
            "/upload",
            data={CSRF_FIELD: token} if token is not None else {},
            files={"file": ("igot.csv", b"service_number,module_id\n" * 100, "text/csv")},
            headers={"Cookie": f"{COOKIE}={SESSION}"},
        )


async def test_an_upload_with_its_forms_token_reaches_the_page_whole() -> None:
    answer = await send(csrf_token(SESSION))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"bytes": 2500}


async def test_an_upload_without_the_token_or_with_another_sessions_is_refused() -> None:
    assert (await send(None)).status_code == 403
    assert (await send(csrf_token("another-session"))).status_code == 403
