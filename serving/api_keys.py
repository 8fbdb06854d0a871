"""Per-tenant API keys on a served bento: a tenant's bento answers only requests that carry one of
that tenant's keys (issue 15, docs/multitenancy.md).

A bento belongs to a tenant when its name carries one (``acme.linear_regression``: s2p/tenancy.py
names it so). Its service then mounts ``ApiKeys``: a request without a key, or with a key nobody
holds, is answered 401; a key of another tenant 403; health probes and /metrics stay open (the
orchestrator and Prometheus call them without keys). Keys travel as ``Authorization: Bearer <key>``
or ``X-API-Key: <key>``.

Keys are stored only as SHA-256 digests, in one JSON file for every tenant (``S2P_TENANT_KEYS``;
written by ``s2p tenant key``), re-read when it changes, so a new or revoked key takes effect within
a second without a restart. A key is 256 random bits, not a password: a fast hash is enough (no
dictionary to attack), and it keeps the check at microseconds per request (benchmarks/bench_tenancy.py).
Keys are never logged: refusals name the reason, not the key.

Shipped inside each bento with the service (it imports nothing of ``s2p``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

#: Between a tenant and the run key in a registered model's (and its bento's) name: ``acme.linear_regression``.
SEPARATOR = "."
KEYS_VARIABLE = "S2P_TENANT_KEYS"
OPEN_PATHS = frozenset(("/readyz", "/livez", "/healthz", "/metrics"))
RELOAD_EVERY_S = 1.0


def tenant_of(model_name: str) -> str | None:
    """The tenant a registered model or bento belongs to (None: no tenant, today's single-team names)."""
    tenant, separator, _ = model_name.partition(SEPARATOR)
    return tenant if separator else None


def digest(key: str) -> str:
    """What is stored and compared instead of a key."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def read_digests(path: Path) -> dict[str, str]:
    """{digest: tenant} of every key in the keys file (an absent file holds no keys)."""
    if not path.exists():
        return {}
    entries = json.loads(path.read_text()).get("keys", [])
    return {entry["digest"]: entry["tenant"] for entry in entries}


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    """The key a request carries: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return key or None


class KeyTable:
    """The digests of the keys file, re-read when the file changes (looked at once a second at most)."""

    def __init__(self, path: Path, reload_every_s: float = RELOAD_EVERY_S) -> None:
        self.path, self.reload_every_s = path, reload_every_s
        self._digests: dict[str, str] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked = float("-inf")
        self._refresh()

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._digests, self._stamp = read_digests(self.path), stamp

    def tenant(self, key: str) -> str | None:
        """The tenant holding ``key``, or None if no one does."""
        now = time.monotonic()
        if now - self._checked >= self.reload_every_s:
            self._checked = now
            self._refresh()
        return self._digests.get(digest(key))


class ApiKeys:
    """ASGI middleware: only ``tenant``'s keys pass (401 without a known key, 403 with another tenant's)."""

    def __init__(self, app, tenant: str, keys_file: str) -> None:
        self.app, self.tenant = app, tenant
        self.keys = KeyTable(Path(keys_file))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        key = presented_key(dict(scope["headers"]))
        if key is None:
            return await _refuse(send, 401, "an API key is required (Authorization: Bearer <key>)")
        holder = self.keys.tenant(key)
        if holder is None:
            return await _refuse(send, 401, "unknown or revoked API key")
        if holder != self.tenant:
            return await _refuse(send, 403, f"this key is not a key of tenant {self.tenant!r}")
        return await self.app(scope, receive, send)


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="s2p"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def mount(service, bento_name: str, environ=os.environ) -> str | None:
    """Mount ``ApiKeys`` on ``service`` when its bento belongs to a tenant; that tenant (None: nothing
    mounted). A tenant's bento without a keys file configured refuses to start rather than serve openly,
    and so does one served under another tenant's configuration (S2P_TENANT)."""
    tenant = tenant_of(bento_name)
    if tenant is None:
        return None
    configured = environ.get("S2P_TENANT")
    if configured and configured != tenant:
        raise RuntimeError(f"bento {bento_name} belongs to tenant {tenant!r}, but S2P_TENANT is {configured!r}")
    keys_file = environ.get(KEYS_VARIABLE)
    if not keys_file:
        raise RuntimeError(
            f"bento {bento_name} belongs to tenant {tenant!r}: set {KEYS_VARIABLE} to the API keys file "
            "(`s2p tenant key` writes it; `s2p serve` sets it) so that only the tenant's keys are answered"
        )
    service.add_asgi_middleware(ApiKeys, tenant=tenant, keys_file=keys_file)
    return tenant
