"""A simulated charge point's answers to the central system's calls (OCPP 1.6J).

Mixed into :class:`gateway.ocpp16.sim_cp.SimChargePoint`: GetConfiguration (its declared
units and ``ChargingScheduleMaxPeriods``), SetChargingProfile and ClearChargingProfile (the
profiles it follows), RemoteStart/StopTransaction, ChangeAvailability and TriggerMessage.
A reply never waits: what follows it (a status, a transaction) is spawned on the simulator.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Callable, Coroutine, Protocol

# the ocpp package hands payloads over in snake_case; profiles are read in the wire's camelCase
from ocpp.charge_point import snake_to_camel_case
from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    ChargingProfileStatus,
    ClearChargingProfileStatus,
    ConfigurationStatus,
    RemoteStartStopStatus,
    TriggerMessageStatus,
)

from engine.runtime.cars import Car

from .profiles import ProfileLimit

__all__ = ["CentralSystemCalls", "DECLARED", "SimHost"]

#: OCPP ``ChargingScheduleAllowedChargingRateUnit`` value for each profile unit
DECLARED = {"W": "Power", "A": "Current", "WA": "Current,Power"}


class SimHost(Protocol):
    """What a simulated charge point uses of its owner (:class:`gateway.ocpp16.sim.Simulator`)."""

    url: str
    passwords: dict[str, str]
    clock: Callable[[], datetime]
    voltage_v: float
    phases: int
    meter_interval_s: float
    response_timeout: float
    validate: bool
    messages: int
    refused: dict[str, int]

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task: ...

    async def online_changed(self, cp: Any) -> None: ...

    async def offline_requested(self, cp: Any) -> None: ...


class CentralSystemCalls:
    """Mixin: a simulated charge point's handlers of the central system's calls."""

    sim: SimHost
    unit: str
    max_periods: int
    car: Car | None
    in_tx: bool
    tx_id: int | None
    tx_start: datetime | None
    tx_profile: ProfileLimit | None
    default_profile: ProfileLimit | None
    faulted: bool
    available: bool
    t: datetime
    _lock: asyncio.Lock

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
        prof = snake_to_camel_case(cs_charging_profiles)
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
