"""Configuration from the environment (prefix ``SHAKTI_``), one object for every service."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.bus import CREDENTIALS_FILE, OPS, CredentialsError, inbox_prefix, read_credentials


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHAKTI_", env_file=".env", extra="ignore")

    nats_url: str | None = Field(
        default=None,
        description="An existing NATS server or cluster; unset means start the embedded server.",
    )
    nats_password: SecretStr | None = Field(
        default=None,
        description="The password of this process's NATS user, named like the one part it runs "
        "(shakti serve routing: user routing).",
    )
    nats_credentials_file: Path | None = Field(
        default=None,
        description="A JSON file of NATS user name -> password, for a process running several parts "
        "(each connects as its own user) or an operator's tools (user ops). With the embedded server: "
        "<data_dir>/nats-credentials.json, made on its first start.",
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
    projection_gather_ms: float = Field(
        default=100.0,
        ge=0.0,
        description="How long a read model holds an event it has read for the rest of its burst, to apply "
        "a case's events from several streams in one transaction (fewer SQL statements a case, "
        "bench.e2e). Nothing is held while somebody in the process waits for the read model (the web "
        "front after each command, a command that did not find what it looks for). 0: every event "
        "applied at once.",
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
    key_store_url: str | None = Field(
        default=None, description="Database for the intake service's per-case identity keys."
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="The address people reach the platform at (https://shakti.example.gov.in): a "
        "certificate's QR code points there. Unset, the address the request came to.",
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
        default=12 * 1024 * 1024,
        description="Largest multipart upload (a case's file of up to 10 MB; the import files: jurisdiction,"
        " roster, iGOT export).",
    )
    kek_file: Path | None = Field(
        default=None,
        description="The key-encryption key of intake's case keys (32 random bytes, base64, mode 0600); "
        "unset means keys_dir/kek.key.",
    )
    phone_index_key_file: Path | None = Field(
        default=None,
        description="The key of intake's blind index of a complainant's phone (32 random bytes, base64, "
        "mode 0600); unset means keys_dir/phone-index.key.",
    )
    kek_previous_file: Path | None = Field(
        default=None,
        description="During a KEK rotation only: the previous KEK, used to unwrap keys not yet re-wrapped.",
    )

    def kek_path(self) -> Path:
        return self.kek_file or self.keys_dir / "kek.key"

    log_format: Literal["auto", "human", "json"] = Field(
        default="auto",
        description="'human': short coloured lines for a person; 'json': one JSON object a line, for "
        "machines; 'auto': human on a terminal, JSON otherwise.",
    )
    log_level: Literal["debug", "info", "warning", "error"] | None = Field(
        default=None,
        description="Unset: info, except on a terminal in human lines, where start-up is shown at info "
        "and then only warnings and errors (so the start-up summary stays in view).",
    )
    access_log: bool = Field(default=False, description="Log a line per HTTP request.")

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    def database_for(self, service: str) -> str:
        if self.database_url:
            return self.database_url.replace("{service}", service)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"

    def nats_password_for(self, user: str) -> str | None:
        """The password ``user`` connects with; None where the server asks for none (tests' servers).

        A credentials file names every user it serves; ``SHAKTI_NATS_PASSWORD`` is the one part's;
        without either, the embedded server's file in the data directory is used when there is one."""
        path = self.nats_credentials_file
        if path is None and self.nats_password is not None and user != OPS:  # the part's, never ops'
            return self.nats_password.get_secret_value()
        if path is None and self.nats_url is None and (self.data_dir / CREDENTIALS_FILE).exists():
            path = self.data_dir / CREDENTIALS_FILE
        if path is None:
            return None
        known = read_credentials(path)
        if user not in known:
            raise CredentialsError(
                f"{path} has no password for the NATS user {user!r}",
                f"{path} में NATS उपयोगकर्ता {user!r} का पासवर्ड नहीं है",
            )
        return known[user]

    def nats_options(self, user: str) -> dict[str, Any]:
        """Connection options of ``user`` (nats-py and FastStream alike): its login and inbox prefix."""
        options: dict[str, Any] = {"inbox_prefix": inbox_prefix(user)}
        password = self.nats_password_for(user)
        if password is not None:
            options |= {"user": user, "password": password}
        return options
