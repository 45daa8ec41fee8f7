"""A minimal OCI distribution (registry HTTP API v2) client: manifests and blobs, verified.

Auth: anonymous first; on 401 it follows the `WWW-Authenticate` challenge: `Bearer realm=...,
service=...,scope=...` gets a token from the realm (with Basic credentials if given), `Basic`
uses the credentials directly. Registries on loopback (`localhost`, `127.0.0.1`, `[::1]`) are
spoken to over plain HTTP; every other one over HTTPS.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import httpx

from chaser.host.errors import ImageNotFound
from chaser.host.images.unpack import ImageInvalid

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class PullFailed(ImageInvalid):
    """The registry refused or failed a request."""

    code = "image_pull_failed"


def verify(data: bytes, digest: str) -> None:
    algo, _, want = digest.partition(":")
    if algo != "sha256" or hashlib.sha256(data).hexdigest() != want:
        raise ImageInvalid(f"content does not match its digest {digest}")


class Registry:
    def __init__(self, host: str, username: str | None = None, password: str | None = None) -> None:
        loopback = host.split(":")[0] in ("localhost", "127.0.0.1") or host.startswith("[::1]")
        self.base = f"{'http' if loopback else 'https'}://{host}/v2/"
        self._auth = (username, password) if username else None
        self._token: str | None = None
        self._http = httpx.Client(timeout=httpx.Timeout(300.0, connect=10.0), follow_redirects=True)

    def close(self) -> None:
        self._http.close()

    def _headers(self, accept: str | None) -> dict[str, str]:
        headers = {"Accept": accept} if accept else {}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _authenticate(self, challenge: str) -> bool:
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            if not self._auth:
                return False
            self._http.auth = httpx.BasicAuth(*self._auth)  # type: ignore[arg-type]
            return True
        if scheme.lower() != "bearer":
            return False
        fields = dict(_CHALLENGE.findall(params))
        query = {k: v for k, v in fields.items() if k in ("service", "scope")}
        response = self._http.get(fields["realm"], params=query, auth=self._auth or httpx.USE_CLIENT_DEFAULT)  # type: ignore[arg-type]
        if response.status_code != 200:
            raise PullFailed(f"token request to {fields['realm']} failed: {response.status_code}")
        body = response.json()
        self._token = body.get("token") or body.get("access_token")
        return bool(self._token)

    def _get(self, path: str, accept: str | None = None) -> httpx.Response:
        url = self.base + path
        request = self._http.build_request("GET", url, headers=self._headers(accept))
        response = self._http.send(request, stream=True)
        if response.status_code == 401 and self._authenticate(response.headers.get("www-authenticate", "")):
            response.close()
            response = self._http.send(
                self._http.build_request("GET", url, headers=self._headers(accept)), stream=True
            )
        if response.status_code == 404:
            response.close()
            raise ImageNotFound(f"{url}: not found in the registry")
        if response.status_code != 200:
            response.read()
            response.close()
            raise PullFailed(f"GET {url}: {response.status_code} {response.text[:300]}")
        return response

    def manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """(body, media type, digest); verified when `reference` is a digest."""
        response = self._get(f"{repository}/manifests/{reference}", MANIFEST_TYPES)
        body = response.read()
        response.close()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:"):
            verify(body, reference)
        media = response.headers.get("content-type", "").split(";")[0]
        return body, media, digest

    def blob(self, repository: str, digest: str, dest: Path) -> None:
        """Stream a blob to `dest`, verifying its digest; nothing is left under `dest` otherwise."""
        tmp = dest.with_name(f".{dest.name}.part")
        hasher = hashlib.sha256()
        response = self._get(f"{repository}/blobs/{digest}")
        try:
            with open(tmp, "wb") as out:
                for chunk in response.iter_bytes(1024 * 1024):
                    hasher.update(chunk)
                    out.write(chunk)
        finally:
            response.close()
        if digest != "sha256:" + hasher.hexdigest():
            tmp.unlink(missing_ok=True)
            raise ImageInvalid(f"blob {digest} from {self.base}{repository} does not match its digest")
        os.replace(tmp, dest)
