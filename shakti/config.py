"""The platform's own settings, on top of the ones every service shares (same ``SHAKTI_`` prefix)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import Settings


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
        default=5, description="Failed sign-ins per user name (and 4x per address) within the window."
    )
    signin_window_seconds: int = Field(default=900, description="The window of the sign-in limit.")
    demo: bool = Field(default=False, description="Mark every page as showing demo data.")

    def base_url(self) -> str:
        return self.platform_url or f"http://{self.http_host}:{self.http_port}"
