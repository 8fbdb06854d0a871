"""Multi-tenancy benchmark: what the per-tenant API-key check costs a served request, against no check
and against keys stored as a password hash would be, in the same run.

    .venv/bin/python benchmarks/bench_tenancy.py [--requests 20000] [--rounds 5] [--tenants 100] [--keys 5]

The three peers are the same ASGI app (answers 200 with a small JSON body, as a cheap endpoint would)
behind: ``none`` (no middleware: today's single-tenant bento), ``sha256`` (serving/api_keys.py's
``ApiKeys``, digests looked up in a table of ``--tenants`` x ``--keys`` keys, the file re-read at most
once a second) and ``scrypt`` (the same middleware, but each key stored as a salted scrypt hash, n=2^14,
as a password would be: the presented key's id picks the entry, then scrypt verifies it). Requests are
driven in-process through the ASGI interface (no sockets: the figure is the check's own CPU), interleaved
in rounds; also the refusals (401 without a key, 403 with another tenant's). Prints microseconds per
request, the ratio to ``none``, and the check's share of the ~0.4 ms of CPU a request costs BentoML's
server stack on this machine (docs/multitenancy.md, /work/shared/TOOLING.md). Exits 1 if a peer answers
a request wrongly.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from s2p import tenancy  # noqa: E402
from serving.api_keys import ApiKeys, KeyTable  # noqa: E402

BENTOML_FLOOR_US = 400.0  # BentoML's own server stack, CPU per request here (TOOLING.md)
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


async def endpoint(scope, receive, send) -> None:
    body = b'[{"id": 1, "prediction": 152.1}]'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ScryptKeys(KeyTable):
    """Keys stored as salted scrypt hashes: ``key id -> (tenant, salt, hash)``; a lookup re-hashes the key."""

    def __init__(self, keys: dict[str, str]) -> None:
        self._entries = {}
        for key, tenant in keys.items():
            salt = secrets.token_bytes(16)
            self._entries[key[:24]] = (tenant, salt, hashlib.scrypt(key.encode(), salt=salt, **SCRYPT))

    def tenant(self, key: str) -> str | None:
        entry = self._entries.get(key[:24])
        if entry is None:
            return None
        tenant, salt, stored = entry
        hashed = hashlib.scrypt(key.encode(), salt=salt, **SCRYPT)
        return tenant if secrets.compare_digest(hashed, stored) else None


def scope_with(key: str | None) -> dict:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
    if key is not None:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    return {"type": "http", "method": "POST", "path": "/predict", "headers": headers}


async def serve(app, scope: dict, requests: int) -> tuple[float, int]:
    """Seconds for ``requests`` requests of ``scope`` through ``app``, and the last status answered."""
    status = 0

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    started = time.perf_counter()
    for _ in range(requests):
        await app(scope, receive, send)
    return time.perf_counter() - started, status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000, help="per peer and round (scrypt: a 100th)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--keys", type=int, default=5, help="keys per tenant")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-tenancy-"))
    keys_file = scratch / "keys.json"
    names = ["acme", *(f"t{index}" for index in range(1, args.tenants))]
    issued = {tenancy.issue_key(keys_file, name)[0]: name for name in names for _ in range(args.keys)}
    mine = next(key for key, name in issued.items() if name == "acme")
    theirs = next(key for key, name in issued.items() if name != "acme")

    hashed = ApiKeys(endpoint, tenant="acme", keys_file=str(keys_file))
    slow = ApiKeys(endpoint, tenant="acme", keys_file=str(keys_file))
    slow.keys = ScryptKeys(issued)
    peers = {"none": (endpoint, mine, 200), "sha256": (hashed, mine, 200), "scrypt": (slow, mine, 200)}
    peers |= {"sha256 no key (401)": (hashed, None, 401), "sha256 other tenant (403)": (hashed, theirs, 403)}

    loop = asyncio.new_event_loop()
    per_request: dict[str, list[float]] = {name: [] for name in peers}
    for _ in range(args.rounds):
        for name, (app, key, expected) in peers.items():
            count = max(10, args.requests // 100) if name == "scrypt" else args.requests
            seconds, status = loop.run_until_complete(serve(app, scope_with(key), count))
            if status != expected:
                print(f"{name}: answered {status}, expected {expected}", file=sys.stderr)
                return 1
            per_request[name].append(seconds / count * 1e6)

    base = statistics.median(per_request["none"])
    print(f"{len(issued)} keys of {len(names)} tenants; {args.rounds} interleaved rounds; median per request")
    print(f"{'peer':<28}{'us/request':>12}{'x none':>10}{'check us':>10}{'of BentoML floor':>18}")
    for name, samples in per_request.items():
        median = statistics.median(samples)
        extra = median - base
        share = f"{extra / BENTOML_FLOOR_US:.1%}" if name != "none" else "-"
        print(f"{name:<28}{median:>12.2f}{median / base:>10.2f}{extra:>10.2f}{share:>18}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
