"""The central system's reading of what charge points report: statuses, transactions, meter values.

Mixed into :class:`gateway.ocpp16.csms.CentralSystem`: each handler updates the charge point's
:class:`~gateway.ocpp16.cpstate.CpState` and passes the runtime its
:class:`~engine.chargers.ChargerEvent` (PLUGGED, UNPLUGGED, FAULT, RECOVERED,
NONCOMPLIANT). Open transactions and the next transaction id are kept in ``state_file`` so a
restarted central system resumes them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from engine.files import atomic_write_text
from engine.ledger import Status
from engine.chargers import ChargerEvent, EventKind

from .cpstate import REASON_OF, STATUS_OF, CpState, sampled
from .profiles import iso, parse_time

__all__ = ["TransactionEvents"]

LOG = logging.getLogger("gateway.ocpp16.csms")


class TransactionEvents:
    """Mixin: the central system's handlers of charge point reports (see the module docstring)."""

    states: dict[str, CpState]
    clock: Callable[[], datetime]
    emit: Callable[[ChargerEvent], None]
    amend: Callable[[str, str, dict[str, Any]], None] | None
    state_file: Path | None
    session_hint: dict[str, str]
    tx_waiters: dict[str, asyncio.Event]
    tol_kw: float
    tol_frac: float
    grace_s: float
    _next_tx: int

    # -- persistence of transactions -------------------------------------------------------------
    def _load_transactions(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        try:
            data = json.loads(self.state_file.read_text())
            self._next_tx = int(data.get("next_tx", 1))
            for cp, tx in data.get("open", {}).items():
                st = self.states.get(cp)
                if st is None:
                    continue
                st.tx_id = int(tx["tx"])
                st.session = str(tx["session"])
                st.meter_start_kwh = float(tx["meter_start_kwh"])
                st.register_kwh = max(st.register_kwh, st.meter_start_kwh)
                st.tx_started_at = parse_time(tx["started_at"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            LOG.error("cannot read %s (%s): starting without open transactions", self.state_file, exc)

    def _save_transactions(self) -> None:
        if self.state_file is None:
            return
        open_tx = {
            s.id: {
                "tx": s.tx_id,
                "session": s.session,
                "meter_start_kwh": s.meter_start_kwh,
                "started_at": iso(s.tx_started_at or self.clock()),
            }
            for s in self.states.values()
            if s.tx_id is not None
        }
        atomic_write_text(self.state_file, json.dumps({"next_tx": self._next_tx, "open": open_tx}, indent=1) + "\n")

    # -- reports ----------------------------------------------------------------------------
    def _at(self, timestamp: str | None) -> datetime:
        if timestamp:
            try:
                return parse_time(timestamp).astimezone(self.clock().tzinfo)
            except ValueError:
                pass
        return self.clock()

    def on_status(self, st: CpState, connector_id: int, error_code: str, status: str, timestamp: str | None) -> None:
        """Connector 0 is the whole charge point: it counts when Faulted or Unavailable."""
        reported = STATUS_OF.get(status, Status.UNAVAILABLE)
        if connector_id == 0:
            st.status0 = reported
        else:
            st.status1 = reported
        if st.status0 in (Status.FAULTED, Status.UNAVAILABLE) or st.status1 is None:
            new = st.status0 if st.status0 is not None else reported
        else:
            new = st.status1
        old = st.status
        st.status = new
        st.error_code = error_code
        at = self._at(timestamp)
        tx = st.session if st.tx_id is not None else None
        if new == Status.FAULTED and old != Status.FAULTED:
            self.emit(ChargerEvent(EventKind.FAULT, st.id, at, tx, {"error_code": error_code}))
        elif old == Status.FAULTED and new != Status.FAULTED:
            self.emit(ChargerEvent(EventKind.RECOVERED, st.id, at, tx, {"reason": "status", "status": status}))
        if new in (Status.FAULTED, Status.UNAVAILABLE, Status.AVAILABLE):
            st.power_kw = 0.0

    def on_start(self, st: CpState, id_tag: str, meter_start: int, timestamp: str) -> int:
        at = self._at(timestamp)
        if st.tx_id is not None:  # the old one was never stopped: close it first
            self.emit(ChargerEvent(EventKind.UNPLUGGED, st.id, at, st.session, {"reason": "superseded"}))
        tx = self._next_tx
        self._next_tx += 1
        st.tx_id = tx
        st.session = self.session_hint.pop(st.id, None) or f"ocpp-{tx}"
        start_kwh = float(meter_start) / 1000.0
        if st.meter_at is None or abs(st.register_kwh - start_kwh) >= 0.001:
            st.register_kwh = start_kwh  # else keep the finer register than meterStart's whole Wh
        st.meter_start_kwh = st.register_kwh
        st.tx_started_at = at
        st.power_kw = 0.0
        st.soc_pct = None
        st.meter_at = at
        st.sent = ()
        st.noncompliant = False
        self._save_transactions()
        self.emit(
            ChargerEvent(
                EventKind.PLUGGED,
                st.id,
                at,
                st.session,
                {"ocpp_transaction_id": tx, "id_tag": id_tag, "meter_start_kwh": st.meter_start_kwh, "soc_pct": None},
            )
        )
        return tx

    def on_stop(
        self,
        st: CpState,
        meter_stop: int,
        timestamp: str,
        transaction_id: int,
        reason: str | None,
        transaction_data: list[dict[str, Any]] | None = None,
    ) -> None:
        at = self._at(timestamp)
        if st.tx_id is None or transaction_id != st.tx_id:
            LOG.warning("%s: StopTransaction for unknown transaction %s", st.id, transaction_id)
            return
        if transaction_data:  # a finer register at the end than meterStop's whole Wh
            t_end, v = sampled(transaction_data)
            if "energy_kwh" in v and abs(v["energy_kwh"] - meter_stop / 1000.0) < 0.001:
                st.register_kwh = v["energy_kwh"]
        stop_kwh = float(meter_stop) / 1000.0
        if abs(stop_kwh - st.register_kwh) >= 0.001:
            st.register_kwh = max(st.register_kwh, stop_kwh)  # else keep the finer register
        energy = st.energy_kwh
        session = st.session
        st.tx_id = None
        st.session = None
        st.power_kw = 0.0
        st.meter_at = at
        st.sent = ()
        st.setpoint = None  # that car's plan; the next car gets its own
        if st.noncompliant:
            st.noncompliant = False
        self._save_transactions()
        self.emit(
            ChargerEvent(
                EventKind.UNPLUGGED,
                st.id,
                at,
                session,
                {
                    "reason": REASON_OF.get(reason or "Local", (reason or "").lower()),
                    "ocpp_reason": reason or "Local",
                    "energy_kwh": energy,
                    "ocpp_transaction_id": transaction_id,
                },
            )
        )
        w = self.tx_waiters.pop(st.id, None)
        if w is not None:
            w.set()

    def on_meter(self, st: CpState, meter_value: list[dict[str, Any]], transaction_id: int | None) -> None:
        at, v = sampled(meter_value)
        if at is None:
            return
        at = at.astimezone(self.clock().tzinfo)
        # an older reading sent late (queued while offline) is dropped; but a register that grew
        # is news whatever its time says (a charge point whose clock was set back)
        if st.meter_at is not None and at < st.meter_at and v.get("energy_kwh", st.register_kwh) <= st.register_kwh:
            return
        st.meter_at = at
        if "energy_kwh" in v:
            st.register_kwh = v["energy_kwh"]
        if "power_kw" in v:
            st.power_kw = v["power_kw"]
        if "soc_pct" in v:
            first = st.soc_pct is None
            st.soc_pct = v["soc_pct"]
            if first and st.session is not None and self.amend is not None:
                self.amend(st.id, st.session, {"soc_pct": st.soc_pct})
        self._judge(st, at)

    def _judge(self, st: CpState, at: datetime) -> None:
        """Raise NONCOMPLIANT when the charge point draws above its limit, RECOVERED when back."""
        lim = st.limit_kw(at) if st.tx_id is not None else None
        if lim is None:
            return
        if st.sent_at is not None and (at - st.sent_at).total_seconds() < self.grace_s:
            return
        over = st.power_kw > lim + max(self.tol_kw, self.tol_frac * lim)
        if over and not st.noncompliant:
            st.noncompliant = True
            self.emit(
                ChargerEvent(
                    EventKind.NONCOMPLIANT, st.id, at, st.session, {"limit_kw": lim, "power_kw": st.power_kw}
                )
            )
        elif not over and st.noncompliant:
            st.noncompliant = False
            self.emit(
                ChargerEvent(
                    EventKind.RECOVERED, st.id, at, st.session, {"reason": "compliant", "limit_kw": lim, "power_kw": st.power_kw}
                )
            )
