"""The decision log: an append-only hash chain of decisions, its checks and its retention purge."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

import bot.storage.chain as chain
from bot.core.clock import Clock, iso
from bot.storage.chain import NO_KEYS, Keyring
from bot.storage.database import serialise
from bot.storage.models import Decision, DuplicateDecision
from bot.storage.schema import chain_anchor, decisions

d = decisions.c
JSON_COLUMNS = ("answers", "rules", "gateways", "secondary", "commencements")


def check_key(channel: str, user_id: str, conversation_id: str) -> str | None:
    return f"{channel}:{user_id}:{conversation_id}" if conversation_id else None


def stored_row(decision: Decision) -> dict[str, Any]:
    row = decision.model_dump(mode="json")
    row["created_at"] = iso(decision.created_at)
    for key in JSON_COLUMNS:
        row[key] = json.dumps(row[key])
    if row.get("law_as_at") is None:  # written without a law date (imports, old tools): legacy fields
        row["commencements"] = None
    row["check_key"] = check_key(decision.channel, decision.user_id, decision.conversation_id)
    return row


def decoded(row: Any) -> dict[str, Any]:
    out = dict(row)
    for key in JSON_COLUMNS:
        if key in out:
            empty: Any = {} if key in ("answers", "commencements") else []
            out[key] = json.loads(out[key]) if out[key] else empty
    return out


class DecisionLog:
    def __init__(self, conn: Connection, clock: Clock, keyring: Keyring = NO_KEYS):
        self.conn, self.clock, self.keyring = conn, clock, keyring

    # --- writing ----------------------------------------------------------------------------
    def record(self, decision: Decision) -> int:
        """Append a decision; a second decision for the same check raises `DuplicateDecision`."""
        serialise(self.conn, "chain")
        row = stored_row(decision)
        if row["check_key"]:
            existing = self.conn.execute(select(d.id).where(d.check_key == row["check_key"])).first()
            if existing:
                raise DuplicateDecision(int(existing[0]))
        return self._append(row)

    def append_rows(self, rows: Iterable[dict[str, Any]], chunk: int = 5000) -> int:
        """Append already-stored rows (benchmarks, imports), re-chained in order: the head is read
        once (the chain lock is held), and rows go in `chunk` at a time."""
        serialise(self.conn, "chain")
        prev, next_id = self._next_link()
        count, pending = 0, []
        for row in rows:
            linked = self._link(dict(row), prev, next_id + count)
            prev = linked["row_hash"]
            pending.append(linked)
            count += 1
            if len(pending) >= chunk:
                self.conn.execute(decisions.insert(), pending)
                pending = []
        if pending:
            self.conn.execute(decisions.insert(), pending)
        return count

    def _link(self, row: dict[str, Any], prev: str, row_id: int) -> dict[str, Any]:
        row = {**row, "id": row_id, "key_id": self.keyring.kid, "prev_hash": prev}
        row.setdefault("secondary", "[]")
        row["row_hash"] = chain.link_hash(prev, row, chain.decision_fields(row), self.keyring.current)
        return row

    def bulk_append(self, rows: Iterable[dict[str, Any]], batch: int = 10_000) -> int:
        """The console bench's name for `append_rows` (chained in order, inserted in batches)."""
        return self.append_rows(rows, chunk=batch)

    def _append(self, row: dict[str, Any]) -> int:
        prev, next_id = self._next_link()
        self.conn.execute(decisions.insert().values(**self._link(row, prev, next_id)))
        return next_id

    def _next_link(self) -> tuple[str, int]:
        last = self.conn.execute(select(d.id, d.row_hash).order_by(d.id.desc()).limit(1)).first()
        if last is not None:
            return last[1], last[0] + 1
        anchor = self._anchor()
        return (anchor["hash"], anchor["purged_through"] + 1) if anchor else (chain.GENESIS, 1)

    def _anchor(self) -> dict[str, Any] | None:
        latest = select(chain_anchor).order_by(chain_anchor.c.id.desc()).limit(1)
        row = self.conn.execute(latest).mappings().first()
        return dict(row) if row else None

    def head(self) -> tuple[int, str]:
        """The last id and hash of the chain (the anchor's, when everything was purged)."""
        prev, next_id = self._next_link()
        return next_id - 1, prev

    # --- reading ----------------------------------------------------------------------------
    def id_for(self, channel: str, user_id: str, conversation_id: str) -> int | None:
        row = self.conn.execute(select(d.id).where(
            d.channel == channel, d.user_id == user_id, d.conversation_id == conversation_id)
            .order_by(d.id).limit(1)).first()
        return int(row[0]) if row else None

    def iter(self, since: datetime | None = None, until: datetime | None = None,
             user_id: str | None = None, limit: int | None = None,
             newest_first: bool = False) -> Iterator[dict[str, Any]]:
        query = select(decisions)
        if since is not None:
            query = query.where(d.created_at >= iso(since))
        if until is not None:
            query = query.where(d.created_at < iso(until))
        if user_id is not None:
            query = query.where(d.user_id == user_id)
        order = (d.created_at.desc(), d.id.desc()) if newest_first else (d.created_at, d.id)
        query = query.order_by(*order)
        if limit is not None:
            query = query.limit(limit)
        for row in self.conn.execution_options(yield_per=2000).execute(query).mappings():
            yield decoded(row)

    def raw_rows(self, columns: list[str], since: datetime, until: datetime,
                 ids: tuple[int, int] | None = None) -> Iterator[tuple]:
        """Stored tuples in id order for exports: no per-row dicts or JSON decoding; `ids`
        limits the scan to an id range, so parallel exports can split the table."""
        first, last = ids or self.id_range(since, until)
        query = (select(*[d[name] for name in columns])
                 .where(d.id.between(first, last), d.created_at >= iso(since), d.created_at < iso(until))
                 .order_by(d.id))
        for row in self.conn.execution_options(yield_per=5000).execute(query):
            yield tuple(row)

    def id_range(self, since: datetime, until: datetime) -> tuple[int, int]:
        """Lowest and highest id logged in [since, until) ((0, -1) when none)."""
        low, high = self.conn.execute(select(func.min(d.id), func.max(d.id)).where(
            d.created_at >= iso(since), d.created_at < iso(until))).one()
        return (int(low), int(high)) if low is not None else (0, -1)

    def count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(decisions)).scalar() or 0)

    # --- tamper evidence and retention --------------------------------------------------------
    def verify(self) -> tuple[int, str | None]:
        """Walk the chain from its anchor. Returns (rows checked, first problem or None)."""
        report = self.walk()
        return report.checked, (report.problems[0] if report.problems else None)

    def walk(self, after: int | None = None) -> chain.Walk:
        """Walk the chain from its anchor (or, given `after`, from that row on, trusting what
        came before it)."""
        anchor = self._anchor()
        start = (anchor["hash"], anchor["purged_through"]) if anchor else (chain.GENESIS, 0)
        query = select(decisions).order_by(d.id)
        if after is not None and after > start[1]:
            prev = self.conn.execute(select(d.row_hash).where(d.id == after)).scalar()
            if prev is not None:
                start, query = (prev, after), query.where(d.id > after)
        rows = self.conn.execution_options(yield_per=5000).execute(query).mappings()
        report = chain.walk("decisions", rows, self.keyring, start[0], start[1], chain.decision_fields)
        state = self.anchor_state(anchor) if anchor else "none"
        if state == "unverifiable" and self.keyring.current is not None:
            report.problems.insert(0, f"purge anchor {anchor['id']}: signed with a key that is not set "  # type: ignore[index]
                                      "here (a retired key belongs in CANISHARE_LOG_OLD_KEYS)")
        elif state == "forged":
            report.problems.insert(0, f"purge anchor {anchor['id']}: its signature does not match (made "  # type: ignore[index]
                                      "by hand, or changed)")
        elif state == "unsigned" and self.keyring.current is not None:
            report.problems.insert(0, f"purge anchor {anchor['id']}: not signed, so not made by canishare "  # type: ignore[index]
                                      "purge (made by hand?)")
        elif state == "unverifiable":
            report.unverifiable += 1
        return report

    def anchor_state(self, anchor: dict[str, Any]) -> str:
        """"ok", "forged", "unsigned" or "unverifiable" (signed with a key we do not hold)."""
        if not anchor.get("key_id") or not anchor.get("signature"):
            return "unsigned"
        key = self.keyring.get(anchor["key_id"])
        if key is None:
            return "unverifiable"
        text = chain.anchor_text("decisions", anchor["purged_through"], anchor["hash"], anchor["at"])
        return "ok" if chain.signed(key, text, anchor["signature"]) else "forged"

    def purge(self, cutoff: datetime, dry_run: bool = False,
              verified_through: int | None = None) -> tuple[int, int]:
        """Delete the oldest decisions logged before `cutoff`: a prefix of the chain, so it stays
        verifiable (the last purged hash becomes the new, signed anchor). Refuses when the chain
        does not verify: a purge must not launder tampering. `verified_through`: the chain was
        walked up to that id just before, outside this write transaction (walking a six-year log
        here would hold every other writer past the busy timeout); only rows after it are walked
        again here. Returns (rows, last id)."""
        serialise(self.conn, "chain")
        first_kept = self.conn.execute(select(func.min(d.id)).where(d.created_at >= iso(cutoff))).scalar()
        doomed = d.id < first_kept if first_kept is not None else d.id.is_not(None)
        count, last = self.conn.execute(select(func.count(), func.max(d.id)).where(doomed)).one()
        if dry_run or not count:
            return int(count or 0), int(last or 0)
        report = self.walk(after=verified_through)
        if report.problems or report.unverifiable:
            raise ChainBroken(report.problems[0] if report.problems else
                              "rows made with a key that is not set here cannot be checked")
        last_hash = self.conn.execute(select(d.row_hash).where(d.id == last)).scalar()
        at = iso(self.clock.now())
        key = self.keyring.current
        self.conn.execute(chain_anchor.insert().values(
            hash=last_hash, purged_through=last, at=at, table_name="decisions",
            key_id=key.kid if key else None,
            signature=chain.sign(key, chain.anchor_text("decisions", last, last_hash, at)) or None))
        self.conn.execute(decisions.delete().where(doomed))
        return int(count), int(last)


class ChainBroken(Exception):
    """The log does not verify; the message names the first row at fault."""
