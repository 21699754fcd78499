"""The site's journal: one SQLite file that owns everything the live site must not forget.

Sessions and their promises, setpoints, meter readings, events, plan segments and the
telemetry outbox (status rows bound for SC2 and the signed transactions that carry them).
This module is the only one that reads or writes it.

SQLite in WAL mode, one connection per thread, ``BEGIN IMMEDIATE`` for every write (writers
from threads and processes are serialised by SQLite's own lock) and ``synchronous=FULL``: a
committed booking survives a crash or power cut. :meth:`Journal.transaction` holds the write
lock across a read-decide-write sequence (a quote and its booking), so that two processes
booking on one cabinet cannot both be promised the same capacity.

A ``sessions.jsonl`` left by an older version in the same folder is read once, on the first
open, so nothing booked before is lost (lines it cannot read are counted and reported in
:meth:`Journal.problems`, which the CPO's pages show). The live site opens its journal with
:meth:`Journal.open_or_set_aside`: a file SQLite cannot read is kept aside, never used or erased.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from engine.chargers import ChargerEvent, ChargerReading
from engine.errors import FieldError
from engine.ledger import SignedWrite, Status, StatusReport, TxReceipt
from engine.runtime.session_record import SessionRecord, read_jsonl_sessions

__all__ = ["Journal", "SessionRecord", "OutboxRow", "JournalError", "JOURNAL_NAME", "read_jsonl_sessions"]

JOURNAL_NAME = "journal.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, cp TEXT NOT NULL, cabinet TEXT NOT NULL,
    arrival TEXT NOT NULL, departure TEXT NOT NULL,
    requested_kwh REAL NOT NULL, guaranteed_kwh REAL NOT NULL, likely_kwh REAL,
    battery_kwh REAL, soc_now_pct REAL, soc_target_pct REAL,
    origin TEXT NOT NULL DEFAULT 'kiosk', state TEXT NOT NULL DEFAULT 'open',
    ended_at TEXT, delivered_kwh REAL NOT NULL DEFAULT 0, end_reason TEXT,
    car TEXT
);
CREATE INDEX IF NOT EXISTS sessions_open ON sessions(state, cp);
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, cp TEXT NOT NULL, session_id TEXT,
    status INTEGER NOT NULL, power_kw REAL NOT NULL, energy_kwh REAL NOT NULL,
    meter_kwh REAL NOT NULL, soc_pct REAL
);
CREATE INDEX IF NOT EXISTS readings_session ON readings(session_id, id);
CREATE INDEX IF NOT EXISTS readings_cp ON readings(cp, id);
CREATE TABLE IF NOT EXISTS setpoints (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, cp TEXT NOT NULL, session_id TEXT, power_kw REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, cp TEXT, session_id TEXT, detail TEXT
);
CREATE INDEX IF NOT EXISTS events_kind ON events(kind, id);
CREATE TABLE IF NOT EXISTS plans (
    session_id TEXT PRIMARY KEY, start TEXT NOT NULL, step_minutes REAL NOT NULL,
    base_kwh REAL NOT NULL, power_kw TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS loads (
    cabinet TEXT NOT NULL, at TEXT NOT NULL, ev_kw REAL NOT NULL, other_kw REAL NOT NULL,
    pv_kw REAL NOT NULL, battery_kw REAL NOT NULL, threshold_kw REAL NOT NULL,
    PRIMARY KEY (cabinet, at)
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, asset_id TEXT NOT NULL, status INTEGER NOT NULL,
    power_kw REAL NOT NULL, energy_kwh REAL NOT NULL, batch_id INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(batch_id, id);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY, created TEXT NOT NULL, tx_hash TEXT NOT NULL, raw_tx TEXT NOT NULL,
    nonce INTEGER NOT NULL, account TEXT NOT NULL, action TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'signed', block INTEGER, gas_used INTEGER, settled TEXT, reason TEXT
);
CREATE INDEX IF NOT EXISTS batches_state ON batches(state, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class JournalError(FieldError):
    """The journal cannot be opened or holds a bad record (names the field or file)."""


@dataclass(frozen=True)
class OutboxRow:
    """One status bound for SC2 (``batch_id`` None: not yet in a signed transaction)."""

    id: int
    at: datetime
    report: StatusReport
    batch_id: int | None


class Journal:
    """The journal of one site (thread- and process-safe).

    Parameters
    ----------
    folder : Path
        The state folder; the file is ``<folder>/journal.sqlite``.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / JOURNAL_NAME
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        try:
            con = self._conn()
            con.executescript(_SCHEMA)
            con.execute("SELECT count(*) FROM sessions").fetchone()
        except sqlite3.DatabaseError as exc:  # _conn's own JournalError passes through
            self.close()
            raise JournalError(str(self.path), f"cannot read the journal: {exc}") from exc
        self._migrate_jsonl()

    @classmethod
    def open_or_set_aside(cls, folder: str | os.PathLike[str]) -> "Journal":
        """The live site's journal; a file SQLite cannot read (not a database, malformed) is kept
        as ``journal.sqlite.bad-<n>`` and a new journal started, whose :meth:`problems` say so.
        Any other failure (a lock held too long, a folder not writable) raises ``JournalError``."""
        try:
            return cls(folder)
        except JournalError as exc:
            if getattr(exc.__cause__, "sqlite_errorcode", None) not in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                raise
            reason = str(exc.__cause__)
        path = Path(folder) / JOURNAL_NAME
        n = 1
        while path.with_name(f"{JOURNAL_NAME}.bad-{n}").exists():
            n += 1
        bad = path.with_name(f"{JOURNAL_NAME}.bad-{n}")
        for suffix in ("", "-wal", "-shm"):  # the file and SQLite's companions, kept together
            if Path(f"{path}{suffix}").exists():
                os.replace(f"{path}{suffix}", f"{bad}{suffix}")
        journal = cls(folder)
        journal.add_problem(f"{JOURNAL_NAME} could not be read ({reason}): it is kept as {bad.name} and a new "
                            "journal was started; the sessions, promises and statuses it held are not in the new one")
        return journal

    def problems(self) -> list[str]:
        """What the CPO must be told about this journal (a file set aside, old lines not read)."""
        return list(self.get_meta("problems", []))

    def add_problem(self, text: str) -> None:
        with self.transaction():
            self.set_meta("problems", self.problems() + [text])

    def clear_problems(self) -> None:
        self.set_meta("problems", [])

    # -- connections -----------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
                con.row_factory = sqlite3.Row
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=FULL")
                con.execute("PRAGMA busy_timeout=30000")
            except sqlite3.DatabaseError as exc:
                raise JournalError(str(self.path), f"cannot open the journal: {exc}") from exc
            self._local.con = con
            self._local.depth = 0
            with self._conns_lock:
                self._conns.append(con)
        return con

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), re-entrant within a thread."""
        con = self._conn()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield con
            finally:
                self._local.depth -= 1
            return
        con.execute("BEGIN IMMEDIATE")
        self._local.depth = 1
        try:
            yield con
        except BaseException:
            self._local.depth = 0
            con.execute("ROLLBACK")
            raise
        self._local.depth = 0
        con.execute("COMMIT")

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, tuple(args)).fetchall()

    def _select(self, table: str, order: str, *, since: datetime | None = None, **equal: Any) -> list[sqlite3.Row]:
        """Rows of ``table`` whose columns equal the given values (None: any) and ``at >= since``."""
        sql, args = f"SELECT * FROM {table} WHERE 1=1", []
        for col, value in equal.items():
            if value is not None:
                sql += f" AND {col}=?"
                args.append(value)
        if since is not None:
            sql += " AND at>=?"
            args.append(since.isoformat())
        return self._read(f"{sql} ORDER BY {order}", args)

    def close(self) -> None:
        """Close every thread's connection."""
        with self._conns_lock:
            for c in self._conns:
                try:
                    c.close()
                except sqlite3.Error:
                    pass
            self._conns.clear()
        self._local = threading.local()

    # -- meta --------------------------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        rows = self._read("SELECT value FROM meta WHERE key=?", (key,))
        return json.loads(rows[0]["value"]) if rows else default

    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                      (key, json.dumps(value)))

    # -- sessions ----------------------------------------------------------------------------------
    def add_session(self, s: SessionRecord) -> None:
        """Record a new session (fails if its id exists)."""
        row = s.to_row()
        cols = ", ".join(row)
        with self.transaction() as c:
            try:
                c.execute(f"INSERT INTO sessions({cols}) VALUES({', '.join('?' * len(row))})", tuple(row.values()))
            except sqlite3.IntegrityError:
                raise JournalError("session", f"session {s.id!r} exists already") from None

    def replace_session(self, s: SessionRecord) -> None:
        """Rewrite an open session (a booking adopting a car that plugged in without one)."""
        row = s.to_row()
        with self.transaction() as c:
            c.execute(f"UPDATE sessions SET {', '.join(k + '=?' for k in row)} WHERE id=? AND state='open'",
                      (*row.values(), s.id))

    def end_session(self, session_id: str, at: datetime, delivered_kwh: float, reason: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE sessions SET state='ended', ended_at=?, delivered_kwh=?, end_reason=? "
                      "WHERE id=? AND state='open'", (at.isoformat(), float(delivered_kwh), reason, session_id))

    def set_delivered(self, delivered: dict[str, float]) -> None:
        """Record the metered energy of open sessions [kWh]."""
        if not delivered:
            return
        with self.transaction() as c:
            c.executemany("UPDATE sessions SET delivered_kwh=? WHERE id=? AND state='open'",
                          [(float(v), k) for k, v in delivered.items()])

    def session(self, session_id: str) -> SessionRecord | None:
        rows = self._read("SELECT * FROM sessions WHERE id=?", (session_id,))
        return SessionRecord.from_row(rows[0]) if rows else None

    def sessions(self, *, open_only: bool = False, cp: str | None = None, cabinet: str | None = None,
                 since: datetime | None = None) -> list[SessionRecord]:
        """Sessions in arrival order, filtered."""
        rows = [SessionRecord.from_row(r) for r in self._select("sessions", "arrival, rowid", cp=cp, cabinet=cabinet,
                                                                  state="open" if open_only else None)]
        if since is not None:
            rows = [s for s in rows if s.arrival >= since or s.ended_at is None or s.ended_at >= since]
        return rows

    def open_session_on(self, cp: str) -> SessionRecord | None:
        rows = self._read("SELECT * FROM sessions WHERE cp=? AND state='open' ORDER BY arrival DESC LIMIT 1", (cp,))
        return SessionRecord.from_row(rows[0]) if rows else None

    def _migrate_jsonl(self) -> None:
        """Read an old ``sessions.jsonl`` once (every valid line; the others are counted)."""
        old = self.folder / "sessions.jsonl"
        if not old.exists() or self.get_meta("migrated_jsonl"):
            return
        records, skipped = read_jsonl_sessions(old)
        with self.transaction() as c:
            for s in records:
                row = s.to_row()
                c.execute(f"INSERT OR IGNORE INTO sessions({', '.join(row)}) VALUES({', '.join('?' * len(row))})",
                          tuple(row.values()))
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('migrated_jsonl', ?)",
                      (json.dumps({"sessions": len(records), "unreadable_lines": sum(skipped.values())}),))
            if skipped:
                self.add_problem(f"{old.name}: {sum(skipped.values())} line(s) not carried over into the journal "
                                 f"({', '.join(f'{k}: {v}' for k, v in sorted(skipped.items()))}); the file is kept")

    # -- measurements, setpoints, events --------------------------------------------------------------
    def add_readings(self, readings: Iterable[ChargerReading], sessions: dict[str, str | None]) -> None:
        """Record meter readings; ``sessions`` maps charge point -> its session id."""
        rows = [(r.at.isoformat() if r.at else "", r.cp, sessions.get(r.cp), int(r.status), float(r.power_kw),
                 float(r.energy_kwh), float(r.meter_kwh), r.soc_pct) for r in readings]
        if rows:
            with self.transaction() as c:
                c.executemany("INSERT INTO readings(at, cp, session_id, status, power_kw, energy_kwh, meter_kwh, soc_pct)"
                              " VALUES(?,?,?,?,?,?,?,?)", rows)

    def readings(self, *, session_id: str | None = None, cp: str | None = None,
                 since: datetime | None = None) -> list[dict[str, Any]]:
        return [dict(r) for r in self._select("readings", "id", since=since, session_id=session_id, cp=cp)]

    def add_setpoints(self, at: datetime, setpoints: Iterable[tuple[str, str | None, float]]) -> None:
        rows = [(at.isoformat(), cp, sid, float(p)) for cp, sid, p in setpoints]
        if rows:
            with self.transaction() as c:
                c.executemany("INSERT INTO setpoints(at, cp, session_id, power_kw) VALUES(?,?,?,?)", rows)

    def add_event(self, kind: str, at: datetime, cp: str | None = None, session_id: str | None = None,
                  **detail: Any) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO events(at, kind, cp, session_id, detail) VALUES(?,?,?,?,?)",
                      (at.isoformat(), kind, cp, session_id, json.dumps(detail, default=str)))

    def add_charger_events(self, events: Iterable[ChargerEvent], sessions: dict[str, str | None]) -> None:
        rows = [(e.at.isoformat(), e.kind, e.cp, e.transaction or sessions.get(e.cp), json.dumps(e.detail, default=str))
                for e in events]
        if rows:
            with self.transaction() as c:
                c.executemany("INSERT INTO events(at, kind, cp, session_id, detail) VALUES(?,?,?,?,?)", rows)

    def events(self, *, kinds: Sequence[str] | None = None, since: datetime | None = None,
               limit: int | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM events WHERE 1=1", []
        if kinds:
            sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
            args += list(kinds)
        if since is not None:
            sql += " AND at>=?"
            args.append(since.isoformat())
        sql += " ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        out = []
        for r in self._read(sql, args):
            d = dict(r)
            d["detail"] = json.loads(d["detail"]) if d["detail"] else {}
            out.append(d)
        return out[::-1]

    def add_loads(self, cabinet: str, at: datetime, *, ev_kw: float, other_kw: float, pv_kw: float,
                  battery_kw: float, threshold_kw: float) -> None:
        """Record a cabinet's measured load at ``at`` [kW]."""
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO loads VALUES(?,?,?,?,?,?,?)",
                      (cabinet, at.isoformat(), ev_kw, other_kw, pv_kw, battery_kw, threshold_kw))

    def loads(self, cabinet: str, since: datetime | None = None) -> list[dict[str, Any]]:
        return [dict(r) for r in self._select("loads", "at", since=since, cabinet=cabinet)]

    # -- plan segments -------------------------------------------------------------------------------
    def save_plans(self, segments: dict[str, dict[str, Any]]) -> None:
        """Replace the plan segments of these sessions ({start, step_minutes, base_kwh, power_kw})."""
        rows = [(sid, seg["start"], float(seg["step_minutes"]), float(seg["base_kwh"]), json.dumps(seg["power_kw"]))
                for sid, seg in segments.items()]
        if rows:
            with self.transaction() as c:
                c.executemany("INSERT OR REPLACE INTO plans VALUES(?,?,?,?,?)", rows)

    def plan(self, session_id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM plans WHERE session_id=?", (session_id,))
        if not rows:
            return None
        d = dict(rows[0])
        d["power_kw"] = json.loads(d["power_kw"])
        return d

    # -- telemetry outbox -----------------------------------------------------------------------------
    def enqueue(self, at: datetime, reports: Iterable[StatusReport]) -> int:
        """Queue statuses for SC2 (in order); returns how many."""
        rows = [(at.isoformat(), r.asset_id, int(r.status), float(r.power_kw), float(r.energy_kwh)) for r in reports]
        if rows:
            with self.transaction() as c:
                c.executemany("INSERT INTO outbox(at, asset_id, status, power_kw, energy_kwh) VALUES(?,?,?,?,?)", rows)
        return len(rows)

    @staticmethod
    def _outbox_row(r: sqlite3.Row) -> OutboxRow:
        return OutboxRow(r["id"], datetime.fromisoformat(r["at"]),
                         StatusReport(r["asset_id"], Status(r["status"]), r["power_kw"], r["energy_kwh"]), r["batch_id"])

    def pending(self, limit: int = 64) -> list[OutboxRow]:
        """The oldest statuses not yet in a transaction."""
        rows = self._read("SELECT * FROM outbox WHERE batch_id IS NULL ORDER BY id LIMIT ?", (int(limit),))
        return [self._outbox_row(r) for r in rows]

    def pending_count(self) -> int:
        return int(self._read("SELECT COUNT(*) n FROM outbox WHERE batch_id IS NULL")[0]["n"])

    def last_enqueued(self) -> dict[str, OutboxRow]:
        """The last status queued for every asset."""
        rows = self._read("SELECT o.* FROM outbox o JOIN (SELECT asset_id, MAX(id) m FROM outbox GROUP BY asset_id) x "
                          "ON o.id = x.m")
        return {r["asset_id"]: self._outbox_row(r) for r in rows}

    def attach_batch(self, row_ids: Sequence[int], write: SignedWrite, at: datetime) -> int:
        """Record a signed transaction carrying these rows (before it is first sent)."""
        with self.transaction() as c:
            cur = c.execute("INSERT INTO batches(created, tx_hash, raw_tx, nonce, account, action) VALUES(?,?,?,?,?,?)",
                            (at.isoformat(), write.tx_hash, write.raw_tx, write.nonce, write.account, write.action))
            bid = int(cur.lastrowid)
            c.executemany("UPDATE outbox SET batch_id=? WHERE id=? AND batch_id IS NULL", [(bid, i) for i in row_ids])
            return bid

    def unsettled(self) -> list[tuple[int, SignedWrite]]:
        """Signed transactions not yet known as mined, in nonce order."""
        rows = self._read("SELECT * FROM batches WHERE state IN ('signed', 'pending') ORDER BY nonce, id")
        return [(r["id"], SignedWrite(r["tx_hash"], r["raw_tx"], r["nonce"], r["account"], r["action"])) for r in rows]

    def mined_before(self, batch_id: int | None = None) -> tuple[int, SignedWrite, int] | None:
        """The newest mined transaction signed before batch ``batch_id`` (None: the newest of all),
        as (batch id, write, block); None when there is none (to re-check after a rollback)."""
        rows = self._read("SELECT * FROM batches WHERE state='mined' AND id<? ORDER BY id DESC LIMIT 1",
                          (int(batch_id) if batch_id is not None else 2**62,))
        if not rows:
            return None
        r = rows[0]
        return r["id"], SignedWrite(r["tx_hash"], r["raw_tx"], r["nonce"], r["account"], r["action"]), int(r["block"])

    def settle_batch(self, batch_id: int, state: str, at: datetime, receipt: TxReceipt | None = None,
                     reason: str | None = None) -> None:
        """Record what became of a batch. ``dropped`` returns its rows to the queue."""
        with self.transaction() as c:
            c.execute("UPDATE batches SET state=?, settled=?, block=?, gas_used=?, reason=? WHERE id=?",
                      (state, at.isoformat(), receipt.block_number if receipt else None,
                       receipt.gas_used if receipt else None, reason, batch_id))
            if state == "dropped":
                c.execute("UPDATE outbox SET batch_id=NULL WHERE batch_id=?", (batch_id,))

    def batch_rows(self, batch_id: int) -> int:
        """How many statuses a batch carries."""
        return int(self._read("SELECT COUNT(*) n FROM outbox WHERE batch_id=?", (int(batch_id),))[0]["n"])

    def outbox_stats(self) -> dict[str, int]:
        """Counts: queued rows, rows in mined/reverted batches, batches, gas."""
        q = self._read(
            "SELECT COUNT(*) n, SUM(CASE WHEN o.batch_id IS NULL THEN 1 ELSE 0 END) pending, "
            "SUM(CASE WHEN b.state='mined' THEN 1 ELSE 0 END) mined, "
            "SUM(CASE WHEN b.state='reverted' THEN 1 ELSE 0 END) reverted, "
            "SUM(CASE WHEN b.state IN ('signed','pending') THEN 1 ELSE 0 END) in_flight "
            "FROM outbox o LEFT JOIN batches b ON o.batch_id = b.id")[0]
        g = self._read("SELECT COUNT(*) n, SUM(gas_used) gas FROM batches WHERE state='mined'")[0]
        return {"queued": int(q["n"] or 0), "pending": int(q["pending"] or 0), "mined": int(q["mined"] or 0),
                "reverted": int(q["reverted"] or 0), "in_flight": int(q["in_flight"] or 0),
                "transactions": int(g["n"] or 0), "gas": int(g["gas"] or 0)}

    def mined_rows(self) -> list[OutboxRow]:
        rows = self._read("SELECT o.* FROM outbox o JOIN batches b ON o.batch_id=b.id WHERE b.state='mined' ORDER BY o.id")
        return [self._outbox_row(r) for r in rows]
