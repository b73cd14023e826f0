"""The audit chain: append-only JSONL files whose entries are chained with a keyed hash (HMAC-SHA256).

Each entry is serialized canonically (sorted keys, ASCII only: every non-ASCII character, U+2028/U+2029 and
U+0085 included, is a JSON escape, so one entry is always exactly one line) and carries `seq`, `prev_mac` and
`mac = HMAC(audit key, canonical entry without mac)`. Without the audit key nobody can recompute the chain after
an edit. A signed head (count and last mac) is kept in a separate folder, so a dropped tail or a deleted file is
detected too; the warehouse copy records, at each sync, how far it copied (`audit.chain_heads`).

The audit key (JIANFU_AUDIT_KEY) is not the mask key and should live off the machine that holds the files: who
holds it can rewrite history undetectably (see docs/access.md).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
FORMAT = 2


class AuditError(RuntimeError):
    """The audit chain or its warehouse copy does not verify: publication stops until an operator looks."""


def canonical(obj: Any) -> str:
    """One line of pure ASCII JSON: the same object always gives the same text."""
    return json.dumps(
        obj, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=str, allow_nan=False
    )


def mac_of(key: bytes, body: Mapping[str, Any]) -> str:
    return hmac.new(
        key, canonical({k: v for k, v in body.items() if k != "mac"}).encode("ascii"), sha256
    ).hexdigest()


@dataclass(frozen=True)
class Head:
    count: int
    last_mac: str


def head_path(heads_dir: Path, chain: Path) -> Path:
    return heads_dir / f"{chain.name}.head"


def read_head(path: Path, key: bytes) -> tuple[Head | None, str | None]:
    """(head, problem): a head whose signature does not verify is a problem, not a head."""
    if not path.exists():
        return None, None
    try:
        doc = json.loads(path.read_text(encoding="ascii"))
    except (ValueError, UnicodeDecodeError):
        return None, f"{path.name}: unreadable head"
    if not hmac.compare_digest(str(doc.get("mac", "")), mac_of(key, doc)):
        return None, f"{path.name}: head signature does not verify (edited, or another audit key)"
    return Head(int(doc["count"]), str(doc["last_mac"])), None


def _write_head(path: Path, key: bytes, count: int, last_mac: str, chain: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"chain": chain.name, "count": count, "last_mac": last_mac,
                           "updated_at": dt.datetime.now(dt.UTC).isoformat()}  # fmt: skip
    doc["mac"] = mac_of(key, doc)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(canonical(doc) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _last_line(fh: Any) -> dict[str, Any] | None:
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(max(0, size - (1 << 20)))
    for line in reversed(fh.read().splitlines()):
        if line.strip():
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def is_legacy(path: Path, head: Path) -> bool:
    """A chain written before keyed hashes (no entry has a mac, and no head): kept aside, not verified."""
    return path.exists() and not head.exists() and not any("mac" in e for e in read(path))


def _archive_legacy(path: Path, head: Path) -> None:
    if is_legacy(path, head) and path.stat().st_size:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        os.replace(path, path.with_name(f"{path.stem}.legacy-{stamp}{path.suffix}"))


def append(path: Path, heads_dir: Path, key: bytes, records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Append records under an exclusive lock, chained and fsync'ed; update the signed head. Returns the macs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    hp = head_path(heads_dir, path)
    _archive_legacy(path, hp)
    macs: list[str] = []
    with open(path, "a+", encoding="ascii") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            head, _ = read_head(hp, key)
            if head is not None:
                seq, prev = head.count, head.last_mac
                # entries a key holder appended after the head but was killed before signing it (an
                # interrupted run): adopt them when each chains on and carries a valid keyed hash
                # (the whole file is read only when its last line is beyond the head: appends stay cheap)
                last = _last_line(fh)
                if last and isinstance(last.get("seq"), int) and last["seq"] > head.count:
                    tail = read(path)[head.count :]
                    if tail and _valid_tail(tail, key, head.count, head.last_mac):
                        seq, prev = int(tail[-1]["seq"]), str(tail[-1]["mac"])
            else:  # first entry, or a lost head: continue from the file (verify reports the lost head)
                last = _last_line(fh)
                seq, prev = (int(last.get("seq", 0)), str(last.get("mac", GENESIS))) if last else (0, GENESIS)
            fh.seek(0, os.SEEK_END)
            for rec in records:
                seq += 1
                entry = {**rec, "format": FORMAT, "seq": seq, "prev_mac": prev}
                entry["mac"] = mac_of(key, entry)
                fh.write(canonical(entry) + "\n")
                prev = entry["mac"]
                macs.append(prev)
            fh.flush()
            os.fsync(fh.fileno())
            _write_head(hp, key, seq, prev, path)
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return macs


def _valid_tail(tail: list[dict[str, Any]], key: bytes, count: int, last_mac: str) -> bool:
    """True when `tail` continues a chain whose signed head is (count, last_mac), entry by entry, under `key`:
    only the key holder can have written it, so it is an append interrupted before the head was signed."""
    prev = last_mac
    for i, e in enumerate(tail, start=count + 1):
        if "mac" not in e or e.get("seq") != i or e.get("prev_mac") != prev:
            return False
        if not hmac.compare_digest(str(e["mac"]), mac_of(key, e)):
            return False
        prev = str(e["mac"])
    return True


def read(path: Path) -> list[dict[str, Any]]:
    """Entries of a chain file (a line that is not JSON becomes {'_unreadable': line number})."""
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    with open(path, encoding="utf-8", errors="replace", newline="\n") as fh:
        for i, line in enumerate(fh.read().split("\n"), start=1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"_unreadable": i})
    return out


def verify(path: Path, heads_dir: Path, key: bytes) -> list[str]:
    """Problems with one chain file: edits, reordering, removed lines, a dropped tail, a deleted file."""
    problems: list[str] = []
    head, bad_head = read_head(head_path(heads_dir, path), key)
    if bad_head:
        problems.append(bad_head)
    if not path.exists():
        if head is not None and head.count > 0:
            problems.append(
                f"{path.name}: file is missing but its head records {head.count} entries (deleted)"
            )
        return problems
    if head is None and not bad_head and is_legacy(path, head_path(heads_dir, path)):
        return []  # an unkeyed chain of an older version: archived aside at the next append
    entries = read(path)
    prev = GENESIS
    for i, e in enumerate(entries, start=1):
        if "_unreadable" in e:
            problems.append(f"{path.name} line {e['_unreadable']}: not JSON")
            prev = ""
            continue
        if "mac" not in e:
            problems.append(
                f"{path.name} entry {i}: no keyed hash (written before the keyed chain, or forged)"
            )
            prev = str(e.get("entry_sha256", ""))
            continue
        if e.get("seq") != i:
            problems.append(
                f"{path.name} entry {i}: sequence {e.get('seq')} (an entry was removed or inserted)"
            )
        if e.get("prev_mac") != prev:
            problems.append(
                f"{path.name} entry {i}: does not chain to the previous entry (removed or reordered)"
            )
        if not hmac.compare_digest(str(e["mac"]), mac_of(key, e)):
            problems.append(f"{path.name} entry {i}: keyed hash does not match its content (edited)")
        prev = str(e["mac"])
    if head is None and not bad_head and entries:
        problems.append(f"{path.name}: its signed head is missing (kept in {heads_dir})")
    elif head is not None:
        if head.count > len(entries):
            problems.append(
                f"{path.name}: head records {head.count} entries, the file has {len(entries)} (tail dropped)"
            )
        elif head.count < len(entries):
            # keyed entries that chain on from the head: an append killed before it signed the head
            if not _valid_tail(entries[head.count :], key, head.count, head.last_mac):
                problems.append(
                    f"{path.name}: {len(entries) - head.count} entries beyond the signed head (appended without the key)"
                )
        elif entries and head.last_mac != entries[-1].get("mac"):
            problems.append(f"{path.name}: last entry is not the one the signed head records")
    return problems
