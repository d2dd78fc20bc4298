"""The ballots' hash chain: each ballot's hash covers the previous one's and its own fields.

`ballot_hash(prev_hash, fields)` is the SHA-256 of a canonical JSON text (sorted keys, no
spaces, UTF-8) of `{"prev": prev_hash, "ballot": fields}`; the first ballot's previous hash is
`GENESIS` (64 zeros). Anyone holding the register can recompute every hash and the head
printed on the protocol; a ballot edited, removed or inserted breaks every later link. A
receipt is the ballot's hash, shown as its first `RECEIPT_DIGITS` hex digits. Pure.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

GENESIS = "0" * 64
RECEIPT_DIGITS = 16


class ChainLink(NamedTuple):
    prev_hash: str
    fields: Mapping[str, Any]
    hash: str


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def ballot_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical({"prev": prev_hash, "ballot": dict(fields)})).hexdigest()


def verify_chain(
    rows: Iterable[ChainLink | tuple[str, Mapping[str, Any], str]], head: str | None = None
) -> bool:
    """The links in chain order start at GENESIS, each follows the previous one and its hash is
    its fields' hash; with `head`, the last hash is that head (GENESIS for no ballots)."""
    previous = GENESIS
    for prev_hash, fields, hash_ in rows:
        if prev_hash != previous or ballot_hash(prev_hash, fields) != hash_:
            return False
        previous = hash_
    return head is None or previous == head


def receipt_of(hash_: str) -> str:
    return hash_[:RECEIPT_DIGITS]
