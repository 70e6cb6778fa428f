"""Settings: read from JOBGATE_* environment variables, overridable by CLI flags."""

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BUILT_IN_TASKS = frozenset({"sleep", "sql", "extract", "upload"})
MIB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOBGATE_", extra="ignore")

    database_url: str = "sqlite:///jobgate.db"
    # PostgreSQL behind a transaction-mode pooler (PgBouncer): a direct URL for what needs a session of its
    # own (LISTEN, the migrations' advisory lock); unset: database_url serves for everything
    direct_database_url: str | None = None
    # connections one process keeps (pool) and may open beyond them under load (overflow); on PostgreSQL each
    # process also holds 2 of its own (LISTEN, NOTIFY): keep Σ processes × (pool + overflow + 2) ≤ max_connections
    db_pool_size: int = Field(10, ge=1, le=1000)
    db_max_overflow: int = Field(20, ge=0, le=1000)
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    runners: int = Field(2, ge=0, le=256)
    cancel_grace_s: float = Field(10.0, ge=0)
    data_dir: Path = Path("./jobgate-data")
    test_forms: Literal["local", "on", "off"] = "local"
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    public_url: str | None = None
    # addresses (or CIDR networks) whose X-Forwarded-For/-Proto are believed, comma-separated; empty: nobody's
    trusted_proxies: str = ""
    # extensions beyond the fixed contract (documented in the README)
    workers: int = Field(1, ge=1, le=64)
    commands: dict[str, list[str]] = Field(default_factory=dict)
    contexts: dict[str, str] = Field(default_factory=dict)
    heartbeat_s: float = Field(1.0, gt=0)
    # how often a runner process reads the states of the jobs it holds: the fallback path of a cancel made in
    # another process (PostgreSQL's NOTIFY brings it in milliseconds; this covers a lost notification)
    cancel_poll_s: float = Field(0.05, ge=0.05, le=60)
    stale_after_s: float = Field(5.0, gt=0)
    cancel_margin_s: float = Field(5.0, ge=0)
    quick_timeout_s: float = Field(60.0, gt=0)  # queue "quick" and every synchronous job
    long_timeout_s: float = Field(500.0, gt=0)  # queue "long"
    quick_runners: int = Field(4, ge=1, le=64)  # synchronous jobs running at once; one more is refused as busy
    sql_value_max_bytes: int = Field(16 * MIB, ge=1024, le=1_000_000_000)
    sqlite_heap_max_bytes: int = Field(512 * MIB, ge=16 * MIB)
    mydb_quota_bytes: int = Field(1024 * MIB, ge=64 * 1024)
    quick_max_bytes: int = Field(8 * MIB, ge=1024)
    extract_max_bytes: int = Field(4096 * MIB, ge=1024)
    auth_cache_ttl_s: float = Field(60.0, ge=0)
    token_lifetime_s: float = Field(3600.0, gt=0)  # a token of a kind no dialect gave a lifetime
    token_lifetimes_s: dict[str, float] = Field(default_factory=dict)  # kind → lifetime, over the dialect's
    log_level: str = "info"
    access_log: bool = True
    # the HTTP layer (httpguard.py): header caps, the time a request has to arrive, connections at once
    http_max_header_bytes: int = Field(64 * 1024, ge=4096, le=1024 * 1024)
    http_max_headers: int = Field(100, ge=16, le=1000)
    http_read_timeout_s: float = Field(30.0, gt=0)
    max_connections: int = Field(2048, ge=16)
    access_log_queue: int = Field(10_000, ge=1)  # access lines waiting for the writer; beyond it, dropped
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65536, ge=8)
    inline_hot_path: Literal["auto", "on", "off"] = "auto"
    fast_lane: bool = True
    max_in_flight_per_user: int = Field(64, ge=1)  # REST dialects (Cisco): one more is answered 503

    @model_validator(mode="after")
    def _sql_limits_fit(self) -> Self:
        if self.sqlite_heap_max_bytes < 4 * self.sql_value_max_bytes:
            raise ValueError("JOBGATE_SQLITE_HEAP_MAX_BYTES must be at least 4 × JOBGATE_SQL_VALUE_MAX_BYTES")
        if self.quick_max_bytes > self.sqlite_heap_max_bytes:
            raise ValueError("JOBGATE_QUICK_MAX_BYTES must not exceed JOBGATE_SQLITE_HEAP_MAX_BYTES")
        return self

    @field_validator("public_url")
    @classmethod
    def _public_url_is_absolute(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("JOBGATE_PUBLIC_URL must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies_are_addresses(cls, value: str) -> str:
        import ipaddress

        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"JOBGATE_TRUSTED_PROXIES: {item!r} is not an IP address or network") from None
        return ",".join(filter(None, (part.strip() for part in value.split(","))))

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [item for item in self.trusted_proxies.split(",") if item]

    @field_validator("commands")
    @classmethod
    def _commands_are_argv(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, argv in value.items():
            if not argv or not all(isinstance(arg, str) for arg in argv):
                raise ValueError(f"command task {name!r} needs a non-empty argv list")
            if name in BUILT_IN_TASKS:
                raise ValueError(f"command task {name!r} would hide a built-in task")
        return value
