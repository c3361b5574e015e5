"""Attacks on the form token of a page's upload (a case's file), kept as tests: no crafted multipart body
gets past the guard without the session's token, and no body gets past its limit."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request

from services.intake.api import kept_filename
from shared.auth import COOKIE
from shared.http_guard import CSRF_FIELD, HttpGuard, csrf_token

SESSION = "a-session-cookie-value"
TOKEN = csrf_token(SESSION)
WRONG = csrf_token("the-attackers-own-session")
LIMIT = 100_000


def guarded() -> HttpGuard:
    app = FastAPI()

    @app.post("/cases/{case_id}/attachments")
    async def attach(request: Request) -> dict[str, int]:
        form = await request.form()
        return {"fields": len(form)}

    return HttpGuard(app, secure_cookies=False, body_limit=10_000, upload_limit=LIMIT)


def part(name: str, value: bytes, filename: str | None = None, extra: str = "") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    return f"--B\r\nContent-Disposition: {disposition}\r\n{extra}\r\n".encode() + value + b"\r\n"


PNG = b"\x89PNG\r\n\x1a\n" + b"x" * 100
FILE = part("file", PNG, "photo.png", "Content-Type: image/png\r\n")
END = b"--B--\r\n"


async def post(
    body: bytes | AsyncIterator[bytes],
    content_type: str = "multipart/form-data; boundary=B",
    token_header: str | None = None,
) -> int:
    headers = {"Content-Type": content_type, "Cookie": f"{COOKIE}={SESSION}"}
    if token_header is not None:
        headers["X-CSRF-Token"] = token_header
    transport = httpx.ASGITransport(app=guarded())
    async with httpx.AsyncClient(transport=transport, base_url="http://platform") as client:
        answer = await client.post("/cases/c1/attachments", content=body, headers=headers)
        return answer.status_code


async def test_the_sessions_token_in_a_crafted_body_is_taken() -> None:
    assert await post(part(CSRF_FIELD, TOKEN.encode()) + FILE + END) == 200
    # The content type's case is no reason to refuse a browser's form.
    assert await post(part(CSRF_FIELD, TOKEN.encode()) + FILE + END, "Multipart/Form-Data; boundary=B") == 200


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        # Two tokens, the attacker's first: the first one is the one checked.
        (part(CSRF_FIELD, WRONG.encode()) + part(CSRF_FIELD, TOKEN.encode()) + FILE + END, None),
        # The token as a file (whose content the attacker would choose) is not read as the token.
        (part(CSRF_FIELD, TOKEN.encode(), "csrf_token") + FILE + END, None),
        # A body the guard cannot read: no boundary, another boundary, no closing delimiter, junk.
        (part(CSRF_FIELD, TOKEN.encode()) + FILE + END, "multipart/form-data"),
        (part(CSRF_FIELD, TOKEN.encode()) + FILE + END, "multipart/form-data; boundary=C"),
        (b"garbage\r\n\r\n" + PNG, None),
        # A token only in the headers of a part, or in another field's name.
        (part("file", PNG, "p.png", f"{CSRF_FIELD}: {TOKEN}\r\n") + END, None),
        (part(f"{CSRF_FIELD}x", TOKEN.encode()) + FILE + END, None),
    ],
)
async def test_a_crafted_upload_without_the_sessions_token_is_refused(
    body: bytes, content_type: str | None
) -> None:
    assert await post(body, content_type or "multipart/form-data; boundary=B") == 403


async def test_a_part_with_huge_headers_is_refused_at_once() -> None:
    body = part("file", PNG, "p.png", "X-Pad: " + "a" * (LIMIT - 2_000) + "\r\n") + END
    started = time.monotonic()
    assert await post(body) == 403
    assert time.monotonic() - started < 2


async def test_an_upload_past_its_limit_is_refused_whether_or_not_it_declares_its_length() -> None:
    too_large = part(CSRF_FIELD, TOKEN.encode()) + part("file", b"%PDF-" + b"0" * LIMIT, "big.pdf") + END
    assert await post(too_large) == 413

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for start in range(0, len(too_large), 8192):
            yield too_large[start : start + 8192]

    assert await post(chunked()) == 413
    # With the token in a header the guard does not read the body: the page's reading is cut off.
    assert await post(chunked(), token_header=TOKEN) == 413


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("photo\u202egnp.pdf", "photognp.pdf"),  # shown right to left as "photofdp.png"
        ("\u2067report\u2069.pdf", "report.pdf"),
        ("C:\\Users\\x\\प्राथमिकी.pdf", "प्राथमिकी.pdf"),
        ("क्\u200dष.pdf", "क्\u200dष.pdf"),  # the joiners Hindi writing needs are kept
        ("a\r\nb\x00.pdf", "ab.pdf"),
        ("", "file"),
    ],
)
def test_a_files_name_is_kept_without_what_would_disguise_it(sent: str, kept: str) -> None:
    assert kept_filename(sent) == kept
