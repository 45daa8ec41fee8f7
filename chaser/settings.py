"""Settings shared by the control plane and the host daemon.

Everything is read from `CHASER_*` environment variables, overridable by CLI flags. The data
directory holds the embedded SQLite database and the host daemon's state; nothing else is written
outside it except the image cache (built once per machine, shared by every data directory).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_IMAGE_CACHE = Path("/var/cache/chaser/images")


class ServerSettings(BaseSettings):
    """Settings of the control plane (`chaser server`)."""

    model_config = SettingsConfigDict(env_prefix="CHASER_", extra="ignore")

    data_dir: Path = Path(".chaser")
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: SQLite (WAL) in the data directory"
    )
    base_domain: str | None = Field(
        default=None, description="Domain whose subdomains route to sessions; default `localhost:<port>`"
    )
    public_url: str | None = Field(default=None, description="URL clients use; default http://host:port")
    runtime: str = "auto"
    image_cache: Path = DEFAULT_IMAGE_CACHE
    reconcile_interval_s: float = 5.0
    workspace_size_bytes: int = 10 * 1024**3
    workspace_quota_bytes: int = Field(
        default=10 * 1024**3, gt=0, description="real bytes on disk one workspace's disk may use"
    )
    account_quota_bytes: int = Field(
        default=25 * 1024**3, gt=0, description="real bytes on disk of an account's disks and snapshots"
    )
    git_base_url: str = Field(
        default="https://github.com", description="where `owner/repo` workspace imports clone from"
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'chaser.db').resolve()}"

    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def resolved_base_domain(self) -> str:
        return self.base_domain or f"localhost:{self.port}"


class HostSettings(BaseSettings):
    """Settings of one host daemon (`chaser host`)."""

    model_config = SettingsConfigDict(env_prefix="CHASER_HOST_", extra="ignore")

    state_dir: Path = Path(".chaser/host")
    listen_host: str = "127.0.0.1"
    port: int = 8001
    token: str = ""
    runtime: str = "auto"
    image_cache: Path = DEFAULT_IMAGE_CACHE
    warm_pool_size: int = Field(
        default=2, ge=0, description="booted spares kept ready for ephemeral sessions"
    )
    warm_pool_browser_size: int = Field(
        default=1, ge=0, description="browser spares (Chromium up), kept once a browser session was served"
    )
    pty_grace_s: float = Field(
        default=60.0, ge=0.1, description="how long a detached terminal waits for a reattach"
    )
    network: bool = Field(
        default=True, description="give each VM a network namespace with NAT egress (needs ip, nft, tun)"
    )
    max_vms: int = Field(
        default=512, ge=1, description="VMs this host runs at most, whatever memory is left; more answer 429"
    )
    memory_reserve_mib: int | None = Field(
        default=None,
        ge=0,
        description="MemAvailable (MiB) a new VM must leave, else 429; default max(1 GiB, 5% of RAM)",
    )
    qemu_accel: str = Field(default="auto", description="qemu runtime: auto (probe KVM) | kvm | tcg")
    qemu_templates: Path | None = Field(
        default=None, description="where qemu template snapshots live; default: beside the VM image"
    )
    image_retention_days: float = Field(
        default=7.0, gt=0, description="guest images and qemu templates unused this long are deleted"
    )
    storage_pool: str = Field(
        default="auto", description="auto: reflink copies (an XFS pool file if needed) | off: no pool"
    )
    storage_pool_bytes: int = Field(default=256 * 1024**3, gt=0, description="XFS pool file size (sparse)")
    git_base_url: str = Field(default="https://github.com", description="where owner/repo imports clone from")
