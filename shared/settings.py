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
    secret_key: str = Field(default="change-me-in-production", description="Signs sessions and tokens.")
    key_store_url: str | None = Field(
        default=None, description="Database for the intake service's per-case identity keys."
    )
    secure_cookies: bool = Field(
        default=False,
        description="Browsers reach the platform over HTTPS (a TLS gateway or Ingress in front): cookies "
        "are marked Secure. The deployment files turn it on.",
    )
    body_limit_bytes: int = Field(
        default=256 * 1024,
        description="Largest JSON or form body a request may carry (else 413). The largest valid "
        "registration (statement and description at their limits, JSON with \\u escapes) is ~95 KB.",
    )
    upload_limit_bytes: int = Field(
        default=8 * 1024 * 1024,
        description="Largest multipart upload (the import files: jurisdiction, roster, iGOT export).",
    )
    # keys: the key-encryption key of intake's case keys (see services/intake/kek.py)
    keys_dir: Path = Field(
        default=Path("keys"), description="Key files (never inside data_dir in production)."
    )
    kek_file: Path | None = Field(
        default=None,
        description="The key-encryption key of intake's case keys (32 random bytes, base64, mode 0600); "
        "unset means keys_dir/kek.key.",
    )
    kek_previous_file: Path | None = Field(
        default=None,
        description="During a KEK rotation only: the previous KEK, used to unwrap keys not yet re-wrapped.",
    )

    def kek_path(self) -> Path:
        return self.kek_file or self.keys_dir / "kek.key"

    def database_for(self, service: str) -> str:
        if self.database_url:
            return self.database_url.replace("{service}", service)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"
