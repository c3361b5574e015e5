"""Configuration from the environment (prefix ``SHAKTI_``), one object for every service."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHAKTI_", env_file=".env", extra="ignore")

    nats_url: str | None = Field(
        default=None,
        description="An existing NATS server or cluster; unset means start the embedded server.",
    )
    data_dir: Path = Field(default=Path("var"), description="Embedded NATS storage and SQLite files.")
    nats_port: int = 4222
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL template; '{service}' is replaced by the service name. "
        "Unset means one SQLite file per service under data_dir.",
    )
    projections: bool = Field(
        default=True,
        description="Keep this process's read models up to date. Off for a replica that only reacts and "
        "answers while another process (reactions off) keeps the read models.",
    )
    reactions: bool = Field(
        default=True,
        description="Run this process's process managers and timers. Off for a process that only keeps "
        "the read models (and answers).",
    )
    stream_replicas: int = Field(default=1, description="JetStream replicas per stream (3 on a cluster).")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    keys_dir: Path = Field(
        default=Path("keys"),
        description="Key files (shared/keys.py), mode 0600; never inside the data directory in production.",
    )
    signing_key_file: Path | None = Field(
        default=None,
        description="Ed25519 key that signs session tokens (web front only); keys_dir/signing.key.",
    )
    signing_public_key_file: Path | None = Field(
        default=None, description="Ed25519 public keys that check session tokens; keys_dir/signing.pub."
    )
    certificate_key_file: Path | None = Field(
        default=None, description="Training's certificate key (32 bytes, base64); keys_dir/certificate.key."
    )
    kek_file: Path | None = Field(
        default=None,
        description="Key-encryption key of intake's case keys (32 bytes, base64); keys_dir/kek.key.",
    )
    key_store_url: str | None = Field(
        default=None, description="Database for the intake service's per-case identity keys."
    )

    def database_for(self, service: str) -> str:
        if self.database_url:
            return self.database_url.replace("{service}", service)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"
