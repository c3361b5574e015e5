"""The ``users`` part: the process that issues session tokens also writes the user directory (stream
``USERS``), and answers the operators' users API (``/api/users``, what ``shakti users ...`` calls).

It runs beside the services as a part of its own (its own stream, its own NATS user), in the web front's
process only: no service needs to write the directory, every service reads it.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shakti.config import PlatformSettings
from shakti.users import ServicesReference, UserError, UserStore, user_record
from shared.auth import Principal, request_token, require
from shared.contracts.users import SERVICE
from shared.directory import UserAccount
from shared.roles import Role
from shared.runtime import ServiceContext, ServiceDefinition, ServiceInstance
from shared.text import OneLine

Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
UserName = Annotated[str, Path(min_length=1, max_length=64), OneLine]


class Record(BaseModel):
    role: Role
    service_number: str | None = Field(default=None, max_length=32)
    district: str | None = Field(default=None, max_length=64)
    circle: str | None = Field(default=None, max_length=64)
    thana: str | None = Field(default=None, max_length=64)
    agency: str | None = Field(default=None, max_length=64)
    """An agency desk's agency code (e.g. SJP-OSC); only for the role agency_desk."""


class NewUser(Record):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    replace: bool = False
    """Give an existing user of that name this record and password (their sessions end)."""


class NewPassword(BaseModel):
    password: str = Field(min_length=1, max_length=256)


async def user_refused(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UserError)
    return JSONResponse({"detail": {"code": error.code, "en": error.en, "hi": error.hi}}, error.status)


def reference_for(request: Request, settings: PlatformSettings) -> ServicesReference:
    """The services' reference data, asked with the caller's own token: in this process, or at
    ``SHAKTI_API_URL`` when the services run elsewhere."""
    headers = {"Authorization": f"Bearer {request_token(request) or ''}"}

    async def fetch(path: str, params: dict[str, str]) -> Any:
        if settings.api_url:
            client = httpx.AsyncClient(base_url=settings.api_url, timeout=30.0)
        else:
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=request.app), base_url="http://platform", timeout=30.0
            )
        async with client:
            response = await client.get(path, params=params, headers=headers)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise UserError(
                "reference_unavailable",
                f"Could not check the place and service number ({path} answered {response.status_code}).",
                f"स्थान और सेवा संख्या जाँची नहीं जा सकी ({path}: {response.status_code})।",
                502,
            )
        return response.json()

    return ServicesReference(fetch)


def users_part(store: UserStore, settings: PlatformSettings) -> ServiceDefinition:
    def instance(ctx: ServiceContext) -> ServiceInstance:
        return UsersPart(ctx, store, settings)

    return ServiceDefinition(name=SERVICE, projections=lambda: [], instance=instance)


class UsersPart(ServiceInstance):
    def __init__(self, ctx: ServiceContext, store: UserStore, settings: PlatformSettings) -> None:
        super().__init__(ctx)
        self.store = store
        self.settings = settings

    async def start(self) -> None:
        self.store.attach(self.ctx.store)
        await self.store.ensure_console()

    def routes(self) -> APIRouter:
        store, settings = self.store, self.settings
        router = APIRouter(tags=["users"])

        @router.get("")
        async def everyone(_: Operator) -> list[dict[str, Any]]:
            """Every user: role, jurisdiction, service number, enabled, session version."""
            return [a.as_dict() for a in await store.everyone()]

        @router.get("/{username}")
        async def one(username: UserName, _: Operator) -> dict[str, Any]:
            return _shown(await store.get(username), username)

        @router.post("", status_code=201)
        async def add(body: NewUser, request: Request, principal: Operator) -> dict[str, Any]:
            """Add a user. The place must be in the imported jurisdiction and the service number on
            routing's roster (for Kendra staff, at a Kendra of the user's thana) and nobody else's."""
            record = _record(body.username, body)
            added = await store.add(
                record, body.password, actor=principal.username, replace=body.replace,
                reference=reference_for(request, settings),
            )  # fmt: skip
            return added.as_dict()

        @router.post("/{username}/role")
        async def change(
            username: UserName, body: Record, request: Request, principal: Operator
        ) -> dict[str, Any]:
            """A new role, jurisdiction or service number; the user's sessions end."""
            changed = await store.change(
                _record(username, body), actor=principal.username, reference=reference_for(request, settings)
            )
            return changed.as_dict()

        @router.post("/{username}/disable")
        async def disable(username: UserName, principal: Operator) -> dict[str, Any]:
            return (await store.disable(username, actor=principal.username)).as_dict()

        @router.post("/{username}/enable")
        async def enable(username: UserName, principal: Operator) -> dict[str, Any]:
            return (await store.enable(username, actor=principal.username)).as_dict()

        @router.post("/{username}/password")
        async def password(username: UserName, body: NewPassword, principal: Operator) -> dict[str, Any]:
            """A new password; the user's sessions end."""
            return (await store.set_password(username, body.password, actor=principal.username)).as_dict()

        @router.post("/{username}/signout")
        async def signout(username: UserName, principal: Operator) -> dict[str, Any]:
            """End every session of the user (a lost phone, a suspicion)."""
            await store.end_sessions(username, "operator", actor=principal.username)
            return (await store.get(username)).as_dict()

        return router


def _record(username: str, body: Record) -> Principal:
    return user_record(
        username, body.role, service_number=body.service_number or None,
        district=body.district or None, circle=body.circle or None, thana=body.thana or None,
        agency=body.agency or None,
    )  # fmt: skip


def _shown(account: UserAccount, username: str) -> dict[str, Any]:
    if not account.exists:
        raise UserError("not_found", f"No user {username}.", f"उपयोगकर्ता {username} नहीं है।", 404)
    return account.as_dict()
