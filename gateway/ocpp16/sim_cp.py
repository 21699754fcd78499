"""One simulated OCPP 1.6J charge point: its connection, its physics, what happens to it.

:class:`SimChargePoint` keeps its WebSocket to the central system open (reconnecting after a
drop, keeping transaction messages while offline), charges the plugged car under the profile
it follows (piecewise between profile changes) and reports statuses and MeterValues. Its
answers to the central system's calls are :mod:`gateway.ocpp16.sim_calls`; the
:class:`~gateway.ocpp16.sim.Simulator` runs many of them on one clock.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import datetime, timedelta
from typing import Any

import ocpp.messages
from ocpp.v16 import ChargePoint as _OcppChargePoint
from ocpp.v16 import call
from ocpp.v16.enums import ChargePointErrorCode
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from engine.runtime.cars import Car
from engine.site.model import Asset

from .profiles import ProfileLimit, iso
from .sim_calls import CentralSystemCalls, SimHost

__all__ = ["SimChargePoint"]

LOG = logging.getLogger("gateway.ocpp16.sim")

ocpp.messages.ASYNC_VALIDATION = False  # validate inline (see csms.py)


class SimChargePoint(CentralSystemCalls, _OcppChargePoint):
    """One simulated charge point with one connector.

    Parameters
    ----------
    asset : Asset
        The site's charge point (id, ``rated_kw`` [kW]).
    sim : SimHost
        Owner, a :class:`~gateway.ocpp16.sim.Simulator` (URL, password, clock, voltage).
    unit : {"W", "A", "WA"}
        The charging rate units it declares (``WA``: both).
    max_periods : int
        Its ``ChargingScheduleMaxPeriods``.
    """

    def __init__(self, asset: Asset, sim: SimHost, *, unit: str = "W", max_periods: int = 1000):
        super().__init__(asset.id, None, response_timeout=sim.response_timeout)
        self.asset = asset
        self.sim = sim
        self.unit = unit
        self.max_periods = max_periods
        self.rated_kw = float(asset.rated_kw)
        self.t: datetime = sim.clock()
        self.meter_wh = 0.0
        self.car: Car | None = None
        self.tx_id: int | None = None
        self.in_tx = False  # a transaction is open (or its StartTransaction is in flight)
        self.tx_start: datetime | None = None
        self.tx_profile: ProfileLimit | None = None
        self.default_profile: ProfileLimit | None = None
        self.faulted = False
        self.fault_until: datetime | None = None
        self.available = True
        self.ignore_profile = False  # the charge point ignores its profiles (misbehave)
        self.ignore_limit = False  # this session's car draws what it accepts (plug(ignore_limit=True))
        self._last_report: tuple | None = None
        self.status = "Available"
        self.connected = asyncio.Event()
        self.want_online = True
        self.booted = False
        self.queue: list[Any] = []  # transaction messages kept while offline (OCPP 1.6 4.7)
        self.messages = 0
        self._runner: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        if not sim.validate:
            for handlers in self.route_map.values():
                handlers["_skip_schema_validation"] = True

    async def call(self, payload, suppress=True, unique_id=None, skip_schema_validation=False):
        return await super().call(
            payload, suppress=suppress, unique_id=unique_id, skip_schema_validation=skip_schema_validation or not self.sim.validate
        )

    # -- connection ---------------------------------------------------------------------------
    async def _send(self, message):
        self.messages += 1
        self.sim.messages += 1
        await self._connection.send(message)

    async def route_message(self, raw_msg):
        self.messages += 1
        self.sim.messages += 1
        return await super().route_message(raw_msg)

    def headers(self) -> dict[str, str]:
        pw = self.sim.passwords.get(self.id, "")
        token = base64.b64encode(f"{self.id}:{pw}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def run(self) -> None:
        """Stay connected while :attr:`want_online` (reconnecting after a drop)."""
        delay = 0.05
        while True:
            if not self.want_online:
                await self.sim.online_changed(self)
                continue
            try:
                async with connect(
                    f"{self.sim.url.rstrip('/')}/{self.id}",
                    subprotocols=["ocpp1.6"],
                    additional_headers=self.headers(),
                    ping_interval=None,
                    compression=None,
                    open_timeout=self.sim.response_timeout,
                ) as ws:
                    self._connection = ws
                    self._response_queue = asyncio.Queue()
                    reader = asyncio.ensure_future(self.start())
                    offline = asyncio.ensure_future(self.sim.offline_requested(self))
                    try:
                        await self._on_connected()
                        delay = 0.05
                        done, _ = await asyncio.wait([reader, offline], return_when=asyncio.FIRST_COMPLETED)
                        for d in done:
                            if d is reader and d.exception() and not isinstance(d.exception(), ConnectionClosed):
                                LOG.warning("%s: reader failed: %r", self.id, d.exception())
                    finally:
                        self.connected.clear()
                        reader.cancel()
                        offline.cancel()
                        await ws.close()
            except InvalidStatus as exc:
                LOG.error("%s: refused by the central system (%s)", self.id, exc.response.status_code)
                self.sim.refused[self.id] = exc.response.status_code
                self.connected.clear()
                return
            except (OSError, ConnectionClosed, asyncio.TimeoutError) as exc:
                LOG.info("%s: connection failed (%r), retrying", self.id, exc)
                self.connected.clear()
            if self.want_online:
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)

    async def _on_connected(self) -> None:
        if not self.booted:
            res = await self.call(
                call.BootNotification(
                    charge_point_vendor="ev-cockpit",
                    charge_point_model="sim-1",
                    charge_point_serial_number=self.id[:25],
                    firmware_version="1.0",
                )
            )
            self.booted = res.status == "Accepted"
            self.connected.set()
            await self._status(force=True)
        else:
            self.connected.set()
            queued, self.queue = self.queue, []
            for payload in queued:  # in order: StartTransaction, MeterValues, StopTransaction
                await self._transaction_call(payload)

    def _online(self) -> bool:
        return self.connected.is_set()

    async def _transaction_call(self, payload) -> Any:
        """Send a transaction message, or keep it for the next connection.

        A transaction id unknown when the message was made (its StartTransaction was queued
        too) is filled in when it is sent, after that StartTransaction's answer.
        """
        if not self._online():
            if isinstance(payload, call.MeterValues):  # keep only the latest reading
                self.queue = [q for q in self.queue if not isinstance(q, call.MeterValues)]
            self.queue.append(payload)
            return None
        if isinstance(payload, call.MeterValues) and payload.transaction_id is None and self.tx_id is not None:
            payload.transaction_id = self.tx_id
        if isinstance(payload, call.StopTransaction) and payload.transaction_id is None:
            payload.transaction_id = self.tx_id if self.tx_id is not None else 0
        res = await self.call(payload)
        if isinstance(payload, call.StartTransaction) and res is not None:
            self.tx_id = res.transaction_id
        if isinstance(payload, call.StopTransaction):
            self.tx_id = None
        return res

    # -- physics --------------------------------------------------------------------------------
    def limit_kw(self, t: datetime) -> float:
        """What the charge point lets the car draw at ``t`` [kW]."""
        if self.faulted or not self.available or not self.in_tx or self.car is None:
            return 0.0
        lim = None
        if not (self.ignore_profile or self.ignore_limit):
            for prof in (self.tx_profile, self.default_profile):
                if prof is not None:
                    lim = prof.limit_kw(t)
                    if lim is not None:
                        break
        return self.rated_kw if lim is None else min(lim, self.rated_kw)

    def power_kw(self, t: datetime) -> float:
        """Power drawn at ``t`` [kW]."""
        if self.car is None:
            return 0.0
        return min(self.limit_kw(t), self.car.accept_kw())

    def _integrate(self, t1: datetime) -> None:
        """Charge from :attr:`t` to ``t1`` (piecewise constant limits)."""
        if t1 <= self.t:
            return
        if self.faulted and self.fault_until is not None and self.fault_until <= t1:
            self.t = max(self.t, self.fault_until)  # no charge while faulted
            self.faulted, self.fault_until = False, None
        if self.car is not None and self.in_tx:
            cuts = set()
            for prof in (self.tx_profile, self.default_profile):
                if prof is not None:
                    cuts.update(prof.changes_between(self.t, t1))
            t = self.t
            for c in sorted(cuts) + [t1]:
                kw = self.limit_kw(t)
                if kw > 0:
                    self.meter_wh += 1000.0 * self.car.charge(kw, (c - t).total_seconds() / 3600.0)
                t = c
        self.t = t1

    def _status_now(self) -> str:
        if self.faulted:
            return "Faulted"
        if not self.available:
            return "Unavailable"
        if self.car is None:
            return "Available"
        if not self.in_tx:
            return "Finishing" if self.tx_start is not None else "Preparing"
        if self.car.full:
            return "SuspendedEV"
        if self.limit_kw(self.t) <= 0:
            return "SuspendedEVSE"
        return "Charging"

    async def _status(self, *, force: bool = False) -> None:
        new = self._status_now()
        if new == self.status and not force:
            return
        self.status = new
        if self._online():
            await self.call(
                call.StatusNotification(
                    connector_id=1,
                    error_code=ChargePointErrorCode.other_error if new == "Faulted" else ChargePointErrorCode.no_error,
                    status=new,
                    timestamp=iso(self.t),
                )
            )

    def _meter_payload(self, context: str = "Sample.Periodic") -> call.MeterValues:
        sampled = [
            # the register to the uWh (real meters send whole Wh; the runtime's accounting of a
            # cabinet's load between close ticks is better with the exact figure)
            {"value": f"{self.meter_wh:.6f}", "context": context, "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": f"{1000.0 * self.power_kw(self.t):.1f}", "context": context, "measurand": "Power.Active.Import", "unit": "W"},
        ]
        if self.car is not None and self.car.reports_soc:
            sampled.append({"value": f"{self.car.soc_pct:.1f}", "context": context, "measurand": "SoC", "unit": "Percent"})
        return call.MeterValues(
            connector_id=1,
            transaction_id=self.tx_id,
            meter_value=[{"timestamp": iso(self.t), "sampled_value": sampled}],
        )

    # -- what happens to it ------------------------------------------------------------------------
    async def advance(self, to: datetime, *, report: bool = True) -> None:
        """Move to ``to``: charge, let a car leave at its departure, report meter values."""
        async with self._lock:
            # a fault that ends before the departure is reported at its end
            if self.faulted and self.fault_until is not None and self.fault_until <= to:
                car = self.car
                if car is None or car.departs_at is None or self.fault_until < car.departs_at:
                    self._integrate(self.fault_until)
                    await self._status()
            car = self.car
            if car is not None and car.departs_at is not None and car.departs_at <= to:
                if car.departs_at > self.t:
                    self._integrate(car.departs_at)
                await self._unplug_locked(max(self.t, car.departs_at))
            self._integrate(to)
            await self._status()
            if report and self.in_tx:
                payload = self._meter_payload()
                key = (payload.meter_value[0]["timestamp"], repr(payload.meter_value[0]["sampled_value"]), self.tx_id)
                if key != self._last_report:  # the same reading twice (two reads at one time): once
                    self._last_report = key
                    await self._transaction_call(payload)

    async def plug(self, car: Car, at: datetime, *, ignore_limit: bool = False) -> None:
        """A car arrives: Preparing, StartTransaction (idTag: the car's id), Charging."""
        await self.advance(at, report=False)
        async with self._lock:
            if self.car is not None:
                await self._unplug_locked(self.t)
            self.car = car
            self.ignore_limit = ignore_limit
            await self._status()
            await self._start_locked(car.id[:20])

    async def _start_locked(self, id_tag: str) -> None:
        self.in_tx = True
        self.tx_start = self.t
        self.tx_profile = None
        await self._transaction_call(
            call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=int(round(self.meter_wh)), timestamp=iso(self.t))
        )
        await self._status()
        await self._transaction_call(self._meter_payload("Transaction.Begin"))

    async def _stop_locked(self, reason: str) -> None:
        if not self.in_tx:
            return
        self.in_tx = False
        end = self._meter_payload("Transaction.End").meter_value
        end[0]["sampled_value"] = end[0]["sampled_value"][:1]  # the register
        payload = call.StopTransaction(
            meter_stop=int(round(self.meter_wh)),
            timestamp=iso(self.t),
            transaction_id=self.tx_id,
            reason=reason,
            transaction_data=end,
        )
        self.tx_profile = None
        await self._transaction_call(payload)

    async def _unplug_locked(self, at: datetime, reason: str = "EVDisconnected") -> None:
        self.t = max(self.t, at)
        await self._stop_locked(reason)
        self.car = None
        self.ignore_limit = False
        self.tx_start = None
        await self._status()

    async def unplug(self, at: datetime, reason: str = "EVDisconnected") -> None:
        """The car leaves at ``at`` (charging until then); ``reason`` an OCPP StopTransaction reason."""
        await self.advance(at, report=False)
        async with self._lock:
            await self._unplug_locked(at, reason)

    async def fault(self, at: datetime, minutes: float | None = None) -> None:
        """Fault at ``at`` (no power), for ``minutes`` or until :meth:`recover`."""
        await self.advance(at, report=False)
        async with self._lock:
            self.faulted = True
            self.fault_until = at + timedelta(minutes=minutes) if minutes is not None else None
            await self._status()

    async def recover(self, at: datetime) -> None:
        await self.advance(at, report=False)
        async with self._lock:
            self.faulted, self.fault_until = False, None
            await self._status()
