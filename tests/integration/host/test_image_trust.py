"""Guest images trust the CAs the host trusts locally (/usr/local/share/ca-certificates), so https
works from a session behind the same TLS-intercepting egress as the host (images/build-rootfs.sh)."""

from __future__ import annotations

from pathlib import Path

import pytest

LOCAL_CAS = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))


@pytest.mark.parametrize("image", ["base", "browser"])
def test_images_carry_the_hosts_local_cas(image_cache: Path, image: str) -> None:
    rootfs = image_cache / image / "rootfs"
    if not rootfs.is_dir():
        reason = f"{image} image is not built ({rootfs}); images/build-{image}.sh builds it"
        print(f"\nSKIP {reason}")
        pytest.skip(reason)
    if not LOCAL_CAS:
        print("\nthis host trusts no local CAs: checking that the image carries none")
    bundle = (rootfs / "etc/ssl/certs/ca-certificates.crt").read_text()
    for ca in LOCAL_CAS:
        copied = rootfs / "usr/local/share/ca-certificates" / ca.name
        assert copied.read_bytes() == ca.read_bytes(), ca
        body = "".join(ca.read_text().split("-----")[2].split())  # the base64 between the markers
        assert body[:64] in "".join(bundle.split()), f"{ca.name} is not in the image's CA bundle"
    extra = {p.name for p in (rootfs / "usr/local/share/ca-certificates").glob("*.crt")}
    assert extra == {ca.name for ca in LOCAL_CAS}
