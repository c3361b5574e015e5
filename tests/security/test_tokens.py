"""Issue 12, findings 1 and 5: tokens made by hand read identities and the operator API; role and
jurisdiction lived in the token; certificate ids could be computed from a service number.

Now a token is an EdDSA JWT naming only the user (``sub``) and their session version (``sv``), signed
with a key only the web front holds; anything else is refused with a 401, against the running platform.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from itsdangerous import URLSafeTimedSerializer
from nats.aio.client import Client as NatsClient

from services.training.tests.conftest import full_course, igot_csv, running
from shakti.config import PlatformSettings
from shared.auth import SessionRefused, TokenVerifier
from shared.clock import ManualClock
from shared.contracts.training import OfficerCertified
from shared.keys import (
    CERTIFICATE_KEY,
    OLD_DEFAULT_SECRET,
    SigningKey,
    init_keys,
    load_secret,
    load_verification_keys,
    pem_public,
    public_key_id,
)
from shared.tokens import AUDIENCE, ISSUER, TokenIssuer
from tests.security.served import KATRA, Served, bearer, served_platform
from tests.sessions import keys_for_tests
from tests.waiting import eventually

COMPLAINT = {
    "channel": "walk_in", "category": "stalking", "description": "DEMO statement", "district": "SJP",
    "thana": "SJP-KATRA", "minor": False, "danger_now": False,
    "identity": {"name": "DEMO Tokentest Name", "phone": "9812300001"},
}  # fmt: skip


@pytest.fixture
async def site(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    async with served_platform(nats_url, tmp_path) as served:
        yield served


async def registered_case(site: Served) -> tuple[str, str]:
    """(the case id, the token of the Katra officer who registered it)."""
    added = await site.add_user(
        "katra.officer", "kendra_officer", service_number=site.registrar["SJP-KATRA"], **KATRA
    )
    assert added.status_code == 201, added.text
    token = await site.sign_in("katra.officer")
    registered = await site.client.post(
        "/api/intake/cases", json=COMPLAINT, headers={**bearer(token), "Idempotency-Key": "tok-1"}
    )
    assert registered.status_code == 201, registered.text
    return registered.json()["case_id"], token


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], claims: dict[str, Any], sign: Any) -> str:
    """A JWT put together by hand, as an attacker would (``sign`` takes the signing input)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def claims_for(username: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": username, "sv": 1, "iat": now, "exp": now + 3600,
        "jti": uuid.uuid4().hex,
    }  # fmt: skip
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def test_tokens_made_with_the_old_public_default_read_nothing(site: Served) -> None:
    """Finding 1 as reproduced: with the old default secret, a made-up SHO read an identity and a
    made-up operator read the operator API."""
    case_id, _ = await registered_case(site)
    old = URLSafeTimedSerializer(OLD_DEFAULT_SECRET, salt="shakti-token")
    sho = old.dumps({"username": "nobody", "role": "sho", **KATRA})
    operator = old.dumps({"username": "nobody", "role": "operator"})
    identity = await site.client.get(
        f"/api/intake/cases/{case_id}/identity", params={"purpose": "supervisory_review"}, headers=bearer(sho)
    )
    assert identity.status_code == 401 and "Tokentest" not in identity.text
    assert identity.json()["detail"]["hi"]
    status = await site.client.get("/api/ops/status", headers=bearer(operator))
    assert status.status_code == 401


async def test_forged_confused_expired_and_foreign_tokens_are_refused(site: Served) -> None:
    case_id, token = await registered_case(site)
    identity = f"/api/intake/cases/{case_id}/identity"
    params = {"purpose": "supervisory_review"}
    assert (await site.client.get(identity, params=params, headers=bearer(token))).status_code == 200
    signing = SigningKey(
        serialization.load_pem_private_key((keys_for_tests() / "signing.key").read_bytes(), None),  # type: ignore[arg-type]
        next(iter(load_verification_keys(site.settings))),
    )
    ours = {"alg": "EdDSA", "typ": "JWT", "kid": signing.kid}
    stranger = Ed25519PrivateKey.generate()
    public_pem = (keys_for_tests() / "signing.pub").read_bytes()
    forged = {
        "alg none": handmade({"alg": "none", "typ": "JWT"}, claims_for("katra.officer"), lambda _: b""),
        "alg none, our kid": handmade({**ours, "alg": "none"}, claims_for("katra.officer"), lambda _: b""),
        "HS256 keyed with the public key": handmade(
            {**ours, "alg": "HS256"}, claims_for("katra.officer"),
            lambda data: hmac.new(public_pem, data, hashlib.sha256).digest(),
        ),
        "another key under our kid": handmade(ours, claims_for("katra.officer"), stranger.sign),
        "another key, its own kid": handmade(
            {**ours, "kid": public_key_id(stranger.public_key())}, claims_for("katra.officer"), stranger.sign
        ),
        "no kid": jwt.encode(claims_for("katra.officer"), signing.private, algorithm="EdDSA"),
        "expired": jwt.encode(
            claims_for("katra.officer", iat=int(time.time()) - 7200, exp=int(time.time()) - 60),
            signing.private, algorithm="EdDSA", headers={"kid": signing.kid},
        ),
        "wrong issuer": jwt.encode(
            claims_for("katra.officer", iss="someone-else"), signing.private, algorithm="EdDSA",
            headers={"kid": signing.kid},
        ),
        "wrong audience": jwt.encode(
            claims_for("katra.officer", aud="another-app"), signing.private, algorithm="EdDSA",
            headers={"kid": signing.kid},
        ),
        "no session version": jwt.encode(
            claims_for("katra.officer", sv=None), signing.private, algorithm="EdDSA", headers={"kid": signing.kid}
        ),
        "a user nobody added": jwt.encode(
            claims_for("made.up.sho"), signing.private, algorithm="EdDSA", headers={"kid": signing.kid}
        ),
        "garbage": "not.a.token",
    }  # fmt: skip
    for what, bad in forged.items():
        refused = await site.client.get(identity, params=params, headers=bearer(bad))
        assert refused.status_code == 401, (what, refused.status_code)
        assert "Tokentest" not in refused.text and refused.json()["detail"]["hi"], what
        page = await site.client.get(f"/cases/{case_id}", cookies={"shakti_session": bad})
        assert page.status_code == 303 and page.headers["location"].startswith("/signin"), what


async def test_a_token_carries_who_and_never_what_they_may_do(site: Served) -> None:
    await registered_case(site)
    token = await site.sign_in("katra.officer")
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["kid"] in load_verification_keys(site.settings)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) == {"iss", "aud", "sub", "sv", "iat", "exp", "jti"}
    assert claims["sub"] == "katra.officer" and claims["sv"] == 1
    # Even a token the issuer itself signed with a role in it gets none: the role is the directory's.
    key = serialization.load_pem_private_key((keys_for_tests() / "signing.key").read_bytes(), None)
    boasting = jwt.encode(
        claims_for("katra.officer", role="operator", district=None), key,  # type: ignore[arg-type]
        algorithm="EdDSA", headers={"kid": header["kid"]},
    )  # fmt: skip
    assert (await site.client.get("/api/ops/status", headers=bearer(boasting))).status_code == 403
    me = await site.client.get("/api/auth/me", headers=bearer(boasting))
    assert me.json()["role"] == "kendra_officer" and me.json()["thana"] == "SJP-KATRA"


def test_the_signing_key_rotates_through_the_set_of_public_keys(tmp_path: Path) -> None:
    old_settings = PlatformSettings(keys_dir=tmp_path / "old")
    init_keys(old_settings)
    new = Ed25519PrivateKey.generate()
    new_key = SigningKey(new, public_key_id(new.public_key()))
    old_private = serialization.load_pem_private_key((tmp_path / "old" / "signing.key").read_bytes(), None)
    old_key = SigningKey(old_private, public_key_id(old_private.public_key()))  # type: ignore[arg-type]
    old_token = TokenIssuer(old_key).issue("sp.sjp", 1)
    new_token = TokenIssuer(new_key).issue("sp.sjp", 1)
    # Step 1: every verifier gets the new public key beside the old one; step 2: the web front signs
    # with the new key; both kinds of token hold meanwhile.
    both = tmp_path / "both.pub"
    both.write_bytes((tmp_path / "old" / "signing.pub").read_bytes() + pem_public(new.public_key()))
    during = TokenVerifier(load_verification_keys(PlatformSettings(signing_public_key_file=both)))
    assert during.verify(old_token).username == during.verify(new_token).username == "sp.sjp"
    # Step 3, a token lifetime later: the old public key goes, and with it every token it signed.
    only_new = tmp_path / "new.pub"
    only_new.write_bytes(pem_public(new.public_key()))
    after = TokenVerifier(load_verification_keys(PlatformSettings(signing_public_key_file=only_new)))
    assert after.verify(new_token).username == "sp.sjp"
    with pytest.raises(SessionRefused):
        after.verify(old_token)


def old_certificate_id(service_number: str, serial: int) -> str:
    """How anyone could compute a certificate id before: an HMAC under the public default secret."""
    key = hmac.new(OLD_DEFAULT_SECRET.encode(), b"shakti-training-certificate", hashlib.sha256).digest()
    digest = hmac.new(key, f"{service_number}:{serial}".encode(), hashlib.sha256).digest()
    code = base64.b32encode(digest).decode()[:16]
    return "MSKC-" + "-".join(code[i : i + 4] for i in range(0, 16, 4))


async def test_certificate_ids_come_from_the_certificate_key_not_from_the_service_number(
    nats_url: str, nats_client: NatsClient, sqlite_url: str
) -> None:
    clock = ManualClock()
    async with running(nats_url, nats_client, sqlite_url, clock) as t:
        await t.routing.jurisdiction()
        await t.routing.post("PNO4242", "MSK-SJP-KATRA")

        async def posted() -> bool:
            return (await t.record("PNO4242")).exists

        await eventually(posted)
        await t.settled()
        imported = await t.import_csv(igot_csv(full_course("PNO4242", clock.now())))
        assert imported.status_code == 200 and imported.json()["certified"] == 1
        certified = (await t.events("PNO4242"))[-1]
        assert isinstance(certified, OfficerCertified)
        assert certified.certificate_id != old_certificate_id("PNO4242", 1)
        # Still deterministic (a redelivered event gives the same id), under a key of its own.
        key = load_secret(PlatformSettings(keys_dir=keys_for_tests()), CERTIFICATE_KEY)
        mac = hmac.new(hmac.new(key, b"shakti-training-certificate", hashlib.sha256).digest(),
                       b"PNO4242:1", hashlib.sha256).digest()  # fmt: skip
        code = base64.b32encode(mac).decode()[:16]
        assert certified.certificate_id == "MSKC-" + "-".join(code[i : i + 4] for i in range(0, 16, 4))
        await t.settled()
        verified = await t.client.get(
            f"/api/training/verify/{certified.certificate_id}", headers={"Accept": "application/json"}
        )
        assert verified.status_code == 200 and verified.json()["status"] == "valid"
