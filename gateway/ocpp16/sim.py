"""Simulated OCPP 1.6J charge points: many in one process, each on its own WebSocket.

Each :class:`SimChargePoint` boots, reports its status, starts a transaction when a car is
plugged in, follows the TxProfile it receives with the runtime's car physics
(:class:`engine.runtime.cars.Car`, capped by the charge point's rating), sends MeterValues
(Energy.Active.Import.Register [Wh], Power.Active.Import [W], SoC [%] when the car tells it),
stops the transaction when the car leaves, and can be told to fault, recover, drop its
connection, reconnect, or ignore its profile (a non-complying charge point).

Time is the caller's: :meth:`Simulator.advance_all` moves every charge point to a given
instant (physics integrated piecewise between profile changes, then MeterValues stamped with
that instant), so a headless day on a stepped clock runs at full speed. Standalone, the
command line runs it on the wall clock::

    python -m gateway.ocpp16.sim --csms ws://127.0.0.1:9000 --site data/site.json

and reads commands on standard input (``plug CP KWH SOC MAX_KW [HOURS]``, ``unplug CP``,
``fault CP``, ``recover CP``, ``disconnect CP``, ``reconnect CP``, ``misbehave CP on|off``,
``status``); see docs/ocpp.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import sys
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

import ocpp.messages
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as _OcppChargePoint
from ocpp.v16 import call
from ocpp.v16 import call_result
from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    ChargePointErrorCode,
    ChargingProfileStatus,
    ClearChargingProfileStatus,
    ConfigurationStatus,
    RemoteStartStopStatus,
    TriggerMessageStatus,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from engine.runtime.cars import Car
from engine.site.model import Asset, Site, load_site
from gateway.ocpp16.tasks import FollowUps

from .credentials import load_passwords
from .profiles import ProfileLimit, iso

__all__ = ["SimChargePoint", "Simulator", "main"]

LOG = logging.getLogger("gateway.ocpp16.sim")

ocpp.messages.ASYNC_VALIDATION = False  # validate inline (see csms.py)

#: OCPP ``ChargingScheduleAllowedChargingRateUnit`` value for each profile unit
DECLARED = {"W": "Power", "A": "Current", "WA": "Current,Power"}


class SimChargePoint(_OcppChargePoint):
    """One simulated charge point with one connector.

    Parameters
    ----------
    asset : Asset
        The site's charge point (id, ``rated_kw`` [kW]).
    sim : Simulator
        Owner (URL, password, clock, voltage).
    unit : {"W", "A", "WA"}
        The charging rate units it declares (``WA``: both).
    max_periods : int
        Its ``ChargingScheduleMaxPeriods``.
    """

    def __init__(self, asset: Asset, sim: "Simulator", *, unit: str = "W", max_periods: int = 1000):
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

    # -- from the central system ------------------------------------------------------------------
    @on(Action.get_configuration)
    def on_get_configuration(self, key=None, **kwargs):
        known = {
            "ChargingScheduleAllowedChargingRateUnit": DECLARED[self.unit],
            "ChargingScheduleMaxPeriods": str(self.max_periods),
            "MeterValueSampleInterval": str(int(self.sim.meter_interval_s)),
            "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import,SoC",
            "NumberOfConnectors": "1",
        }
        want = key or list(known)
        return call_result.GetConfiguration(
            configuration_key=[{"key": k, "readonly": True, "value": known[k]} for k in want if k in known],
            unknown_key=[k for k in want if k not in known] or None,
        )

    @on(Action.change_configuration)
    def on_change_configuration(self, key, value, **kwargs):
        return call_result.ChangeConfiguration(status=ConfigurationStatus.rejected)

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id, cs_charging_profiles, **kwargs):
        prof = _camel(cs_charging_profiles)
        purpose = prof.get("chargingProfilePurpose")
        unit = prof["chargingSchedule"]["chargingRateUnit"]
        if (unit == "W" and self.unit == "A") or (unit == "A" and self.unit == "W"):
            return call_result.SetChargingProfile(status=ChargingProfileStatus.rejected)
        if len(prof["chargingSchedule"]["chargingSchedulePeriod"]) > self.max_periods:
            return call_result.SetChargingProfile(status=ChargingProfileStatus.rejected)
        pl = ProfileLimit(prof, voltage_v=self.sim.voltage_v, phases=self.sim.phases, tx_start=self.tx_start)
        if purpose == "TxProfile":
            tx = prof.get("transactionId")
            if not self.in_tx or (tx is not None and self.tx_id is not None and tx != self.tx_id):
                return call_result.SetChargingProfile(status=ChargingProfileStatus.rejected)
            self.tx_profile = pl
        elif purpose == "TxDefaultProfile":
            self.default_profile = pl
        else:
            return call_result.SetChargingProfile(status=ChargingProfileStatus.not_supported)
        return call_result.SetChargingProfile(status=ChargingProfileStatus.accepted)

    @after(Action.set_charging_profile)
    def after_set_charging_profile(self, **kwargs):
        self.sim.spawn(self._status_locked())

    async def _status_locked(self) -> None:
        async with self._lock:
            await self._status()

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **kwargs):
        self.tx_profile = None
        self.default_profile = None
        return call_result.ClearChargingProfile(status=ClearChargingProfileStatus.accepted)

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(self, id_tag, **kwargs):
        ok = self.car is not None and not self.in_tx and not self.faulted and self.available
        self._remote_start_tag = id_tag if ok else None
        return call_result.RemoteStartTransaction(
            status=RemoteStartStopStatus.accepted if ok else RemoteStartStopStatus.rejected
        )

    @after(Action.remote_start_transaction)
    def after_remote_start_transaction(self, id_tag, **kwargs):
        if getattr(self, "_remote_start_tag", None):
            self.sim.spawn(self._remote_start(id_tag))

    async def _remote_start(self, id_tag: str) -> None:
        async with self._lock:
            self._integrate(max(self.t, self.sim.clock()))
            await self._start_locked(id_tag)

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id, **kwargs):
        ok = self.in_tx and transaction_id == self.tx_id
        return call_result.RemoteStopTransaction(
            status=RemoteStartStopStatus.accepted if ok else RemoteStartStopStatus.rejected
        )

    @after(Action.remote_stop_transaction)
    def after_remote_stop_transaction(self, transaction_id, **kwargs):
        self.sim.spawn(self._remote_stop(transaction_id))

    async def _remote_stop(self, transaction_id: int) -> None:
        async with self._lock:
            if self.in_tx and transaction_id == self.tx_id:
                self._integrate(max(self.t, self.sim.clock()))
                await self._stop_locked("Remote")
                await self._status()

    @on(Action.change_availability)
    def on_change_availability(self, connector_id, type, **kwargs):
        self.available = type == "Operative"
        return call_result.ChangeAvailability(status=AvailabilityStatus.accepted)

    @after(Action.change_availability)
    def after_change_availability(self, **kwargs):
        self.sim.spawn(self._status_locked())

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message, **kwargs):
        if requested_message not in ("StatusNotification", "MeterValues", "Heartbeat", "BootNotification"):
            return call_result.TriggerMessage(status=TriggerMessageStatus.not_implemented)
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)

    @after(Action.trigger_message)
    def after_trigger_message(self, requested_message, **kwargs):
        self.sim.spawn(self._triggered(requested_message))

    async def _triggered(self, requested_message: str) -> None:
        if requested_message == "StatusNotification":
            await self._status(force=True)
        elif requested_message == "MeterValues":
            await self.call(self._meter_payload("Trigger"))
        elif requested_message == "Heartbeat":
            await self.call(call.Heartbeat())


def _camel(d: Any) -> Any:
    """The ocpp package hands payloads over in snake_case: back to the wire's camelCase."""
    from ocpp.charge_point import snake_to_camel_case

    return snake_to_camel_case(d)


class Simulator(FollowUps):
    """Many simulated charge points of one site, sharing a clock.

    Parameters
    ----------
    site : Site
    url : str
        The central system, e.g. ``ws://127.0.0.1:9000``.
    passwords : dict
        Charge point id -> password.
    clock : callable
        Site time now (aware datetime).
    units : dict
        Per charge point ``"W"``, ``"A"`` or ``"WA"`` (declared rate units; default ``"W"``).
    voltage_v : float
        Supply voltage [V] (profiles in amperes).
    phases : int
    meter_interval_s : float
        MeterValues interval on the wall clock (:meth:`run_realtime`) [s].
    cp_ids : iterable of str or None
        Only these charge points (default: all the site's).
    validate : bool
        Check messages against the 1.6J schemas on the charge point side too (the central
        system always does; the port's in-process simulation turns this off for speed).
    """

    def __init__(
        self,
        site: Site,
        url: str,
        passwords: dict[str, str],
        *,
        clock: Callable[[], datetime] | None = None,
        units: dict[str, str] | None = None,
        max_periods: dict[str, int] | None = None,
        voltage_v: float | None = None,
        phases: int = 1,
        meter_interval_s: float = 60.0,
        response_timeout: float = 30.0,
        cp_ids: Iterable[str] | None = None,
        validate: bool = True,
    ):
        tz = ZoneInfo(site.timezone)
        self.site = site
        self.url = url
        self.passwords = dict(passwords)
        self.clock = clock or (lambda: datetime.now(tz))
        self.voltage_v = float(voltage_v or site.extra.get("voltage_v") or 230.0)
        self.phases = phases
        self.meter_interval_s = meter_interval_s
        self.response_timeout = response_timeout
        self.validate = validate
        self.messages = 0
        self.refused: dict[str, int] = {}
        wanted = set(cp_ids) if cp_ids is not None else None
        units = units or {}
        max_periods = max_periods or {}
        self.cps: dict[str, SimChargePoint] = {
            a.id: SimChargePoint(a, self, unit=units.get(a.id, "W"), max_periods=max_periods.get(a.id, 1000))
            for a in site.charge_points
            if wanted is None or a.id in wanted
        }
        self._online_cond = asyncio.Condition()
        self._tasks: set[asyncio.Task] = set()

    async def online_changed(self, cp: SimChargePoint) -> None:
        async with self._online_cond:
            await self._online_cond.wait_for(lambda: cp.want_online)

    async def offline_requested(self, cp: SimChargePoint) -> None:
        async with self._online_cond:
            await self._online_cond.wait_for(lambda: not cp.want_online)

    async def set_online(self, cp_id: str, online: bool) -> None:
        """Drop (False) or restore (True) a charge point's connection."""
        cp = self.cps[cp_id]
        async with self._online_cond:
            cp.want_online = online
            self._online_cond.notify_all()
        if online:
            await asyncio.wait_for(cp.connected.wait(), self.response_timeout)
            # wait until what was queued while offline is delivered
            async with cp._lock:
                pass
        else:
            for _ in range(1000):
                if not cp.connected.is_set():
                    break
                await asyncio.sleep(0.005)

    async def start(self, *, timeout: float | None = None) -> None:
        """Connect and boot every charge point (raises if one is refused or too slow)."""
        for cp in self.cps.values():
            cp._runner = asyncio.ensure_future(cp.run())
        waits = [asyncio.ensure_future(cp.connected.wait()) for cp in self.cps.values()]
        done, pending = await asyncio.wait(waits, timeout=timeout or self.response_timeout)
        for p in pending:
            p.cancel()
        if pending or self.refused:
            missing = [c for c, cp in self.cps.items() if not cp.connected.is_set()]
            raise ConnectionError(f"charge points not connected: {', '.join(missing[:10])} (refused: {self.refused})")

    async def stop(self) -> None:
        for cp in self.cps.values():
            if cp._runner is not None:
                cp._runner.cancel()
        await asyncio.gather(*(cp._runner for cp in self.cps.values() if cp._runner), return_exceptions=True)

    async def advance_all(self, to: datetime) -> None:
        """Every charge point to ``to``; returns when the central system has answered all."""
        await asyncio.gather(*(cp.advance(to) for cp in self.cps.values()))

    async def run_realtime(self) -> None:
        """MeterValues every ``meter_interval_s`` on the wall clock, a heartbeat every 5 minutes."""
        beats = 0.0
        while True:
            await asyncio.sleep(self.meter_interval_s)
            await self.advance_all(self.clock())
            beats += self.meter_interval_s
            if beats >= 300:
                beats = 0.0
                await asyncio.gather(*(cp.call(call.Heartbeat()) for cp in self.cps.values() if cp._online()))


async def _commands(sim: Simulator) -> None:
    """Read commands from standard input (one a line)."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        words = line.split()
        if not words:
            continue
        cmd, args = words[0].lower(), words[1:]
        try:
            if cmd == "status":
                for cid, cp in sim.cps.items():
                    print(f"{cid} {cp.status} online={cp._online()} power={cp.power_kw(cp.t):.2f} kW meter={cp.meter_wh / 1000:.3f} kWh", flush=True)
                continue
            cp = sim.cps[args[0]]
            now = sim.clock()
            if cmd == "plug":
                kwh, soc, max_kw = float(args[1]), float(args[2]), float(args[3])
                hours = float(args[4]) if len(args) > 4 else None
                dep = now + timedelta(hours=hours) if hours else None
                car = Car(id=f"{cp.id}-{now:%H%M%S}", battery_kwh=kwh, soc_pct=soc, max_kw=max_kw, departs_at=dep)
                await cp.plug(car, now)
            elif cmd == "unplug":
                await cp.unplug(now)
            elif cmd == "fault":
                await cp.fault(now)
            elif cmd == "recover":
                await cp.recover(now)
            elif cmd == "disconnect":
                await sim.set_online(cp.id, False)
            elif cmd == "reconnect":
                await sim.set_online(cp.id, True)
            elif cmd == "misbehave":
                cp.ignore_profile = (args[1].lower() if len(args) > 1 else "on") in ("on", "1", "true", "yes")
            else:
                print(f"unknown command {cmd!r}", flush=True)
                continue
            print(f"ok {cmd} {cp.id}", flush=True)
        except (KeyError, IndexError, ValueError) as exc:
            print(f"error: {cmd}: {exc!r}", flush=True)


async def _amain(args: argparse.Namespace) -> int:
    site = load_site(args.site)
    passwords = load_passwords(args.state_dir)
    ids = args.cp or [a.id for a in site.charge_points]
    missing = [c for c in ids if c not in passwords]
    if missing:
        print(f"--state-dir: no password for {', '.join(missing[:5])} (start the central system first)", file=sys.stderr)
        return 2
    units = {c: args.unit for c in ids}
    sim = Simulator(site, args.csms, passwords, units=units, meter_interval_s=args.interval, cp_ids=ids)
    await sim.start(timeout=60)
    print(f"{len(sim.cps)} charge points connected to {args.csms}", flush=True)
    tasks = [asyncio.ensure_future(sim.run_realtime())]
    if not args.no_stdin:
        tasks.append(asyncio.ensure_future(_commands(sim)))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await sim.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gateway.ocpp16.sim", description=__doc__.split("\n\n")[0])
    ap.add_argument("--csms", default="ws://127.0.0.1:9000", help="central system URL (default %(default)s)")
    ap.add_argument("--site", default="data/site.json", help="site file (default %(default)s)")
    ap.add_argument("--state-dir", default=None, help="state folder with ocpp/passwords.json (default $EV_STATE_DIR or ./state)")
    ap.add_argument("--cp", action="append", help="only this charge point (repeatable)")
    ap.add_argument("--unit", choices=["W", "A", "WA"], default="W", help="charging rate units declared (default %(default)s)")
    ap.add_argument("--interval", type=float, default=60.0, help="MeterValues interval [s] (default %(default)s)")
    ap.add_argument("--no-stdin", action="store_true", help="do not read commands from standard input")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    try:
        return asyncio.run(_amain(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
