"""The platform's own settings, on top of the ones every service shares (same ``SHAKTI_`` prefix)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from shared.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class PlatformSettings(Settings):
    api_url: str | None = Field(
        default=None,
        description="Where the web front finds the services' HTTP API; unset means in this process.",
    )
    platform_url: str | None = Field(
        default=None,
        description="Where the operator CLI finds the running platform; unset means http_host:http_port.",
    )
    signin_failures_allowed: int = Field(
        default=3,
        description="Failed sign-ins of one user name from one address before each further try must wait "
        "(1 s, then twice as long each time, up to signin_longest_wait_seconds).",
    )
    signin_longest_wait_seconds: int = Field(default=900, description="The longest wait between tries.")
    signin_window_seconds: int = Field(default=3600, description="How long a failed sign-in counts.")
    trusted_proxies: Annotated[list[Network], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks (comma-separated) of the proxies whose X-Forwarded-For is "
        "believed, e.g. the gateway's; unset: the peer's address is the client's.",
    )
    demo: bool = Field(default=False, description="Mark every page as showing demo data.")
    demo_history_days: int = Field(
        default=90,
        ge=0,
        le=366,
        description="Days of synthetic history a fresh demo records before it runs live (0: none); "
        "about 2 complaints a day, each lived through the API at its own moment.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [
                ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()
            ]
        return value

    def base_url(self) -> str:
        return self.platform_url or f"http://{self.http_host}:{self.http_port}"
