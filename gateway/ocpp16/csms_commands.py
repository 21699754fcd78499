"""The central system's calls to charge points: configuration, charging profiles, remote start and stop.

Mixed into :class:`gateway.ocpp16.csms.CentralSystem`. Every call goes through
:meth:`Commands.request`, which answers None (and counts the error) when the charge point is
not connected, does not answer or refuses.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Callable, Sequence

from ocpp.v16 import call
from ocpp.v16.enums import ChargingProfileStatus, ClearChargingProfileStatus, MessageTrigger, RemoteStartStopStatus
from websockets.exceptions import ConnectionClosed

from engine.chargers import Setpoint

from .cpstate import CpState
from .profiles import ProfileLimit, Segment, segments_from, to_unit, tx_profile

__all__ = ["Commands", "DEFAULT_PROFILE_ID"]

LOG = logging.getLogger("gateway.ocpp16.csms")

DEFAULT_PROFILE_ID = 100_000  # the TxDefaultProfile's chargingProfileId (TxProfiles count from 1)


class Commands:
    """Mixin: the central system's calls to charge points (see the module docstring)."""

    states: dict[str, CpState]
    clock: Callable[[], datetime]
    default_kw: float | None
    default_unit: str
    voltage_v: float
    phases: int
    lead_in_s: int
    response_timeout: float
    session_hint: dict[str, str]
    tx_waiters: dict[str, asyncio.Event]
    errors: int
    _profile_ids: dict[str, int]

    # -- after (re)connecting ----------------------------------------------------------------------
    async def after_boot(self, st: CpState) -> None:
        if not st.unit_fixed or st.max_periods is None:
            await self._read_configuration(st)
        if self.default_kw is not None:
            await self.send_default_profile(st)

    async def send_default_profile(self, st: CpState) -> bool:
        """TxDefaultProfile: what a new transaction may draw until its plan arrives."""
        unit = self.unit_of(st)
        profile = {
            "chargingProfileId": DEFAULT_PROFILE_ID,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": to_unit(self.default_kw or 0.0, unit, voltage_v=self.voltage_v, phases=self.phases)}
                ],
            },
        }
        res = await self.request(st, call.SetChargingProfile(connector_id=0, cs_charging_profiles=profile))
        ok = res is not None and res.status == ChargingProfileStatus.accepted
        if not ok:
            st.profile_rejected += 1
            LOG.warning("%s: TxDefaultProfile %s", st.id, getattr(res, "status", "failed"))
        return ok

    async def _read_configuration(self, st: CpState) -> None:
        keys = ["ChargingScheduleAllowedChargingRateUnit", "ChargingScheduleMaxPeriods"]
        res = await self.request(st, call.GetConfiguration(key=keys))
        if res is None:
            return
        for kv in res.configuration_key or []:
            key, value = kv.get("key"), kv.get("value") or ""
            if key == "ChargingScheduleAllowedChargingRateUnit" and not st.unit_fixed:
                allowed = [v.strip() for v in value.split(",")]
                st.unit = "W" if "Power" in allowed else ("A" if "Current" in allowed else None)
            elif key == "ChargingScheduleMaxPeriods":
                try:
                    st.max_periods = max(2, int(value))
                except ValueError:
                    pass

    async def after_reconnect(self, st: CpState) -> None:
        """Ask for fresh status and meter values, and re-send the plan in force."""
        await self.request(st, call.TriggerMessage(requested_message=MessageTrigger.status_notification, connector_id=1))
        if st.tx_id is not None:
            await self.request(st, call.TriggerMessage(requested_message=MessageTrigger.meter_values, connector_id=1))
            await self.send_profile(st, force=True)

    async def request(self, st: CpState, payload) -> Any:
        """Send a call to a connected charge point; None when it is not connected or fails."""
        conn = st.conn
        if conn is None:
            return None
        try:
            return await conn.call(payload, suppress=False)
        except asyncio.TimeoutError:
            self.errors += 1
            LOG.warning("%s: no answer to %s", st.id, type(payload).__name__)
        except ConnectionClosed:
            LOG.info("%s: connection closed during %s", st.id, type(payload).__name__)
        except Exception as exc:  # a CallError (counted when received) or a schema violation
            if not hasattr(exc, "code"):
                self.errors += 1
            LOG.warning("%s: %s failed: %r", st.id, type(payload).__name__, exc)
        return None

    # -- commands -------------------------------------------------------------------------------------
    def unit_of(self, st: CpState) -> str:
        return st.unit or self.default_unit

    def profile_id(self, cp: str) -> int:
        if cp not in self._profile_ids:
            self._profile_ids[cp] = len(self._profile_ids) + 1
        return self._profile_ids[cp]

    async def apply(self, setpoints: Sequence[Setpoint]) -> None:
        """Store each plan and send it where a transaction is open and the plan changed."""
        jobs = []
        for sp in setpoints:
            st = self.states.get(sp.cp)
            if st is None:
                continue
            st.setpoint = sp
            jobs.append(self.send_profile(st))
        if jobs:
            await asyncio.gather(*jobs)

    async def send_profile(self, st: CpState, *, force: bool = False) -> bool | None:
        """Send the stored plan as a TxProfile; None when there is nothing to send."""
        sp = st.setpoint
        if sp is None or st.tx_id is None or st.conn is None:
            return None
        if st.config_task is not None and not st.config_task.done():
            await asyncio.wait([st.config_task], timeout=self.response_timeout)  # its unit first
        now = self.clock()
        new = segments_from(self._effective(st, sp), now)
        if not force and st.sent and segments_from(st.sent, now) == new:
            return None
        profile = tx_profile(
            sp,
            unit=self.unit_of(st),
            profile_id=self.profile_id(st.id),
            transaction_id=st.tx_id,
            voltage_v=self.voltage_v,
            phases=self.phases,
            max_periods=st.max_periods,
            lead_in_s=self.lead_in_s,
        )
        res = await self.request(st, call.SetChargingProfile(connector_id=1, cs_charging_profiles=profile))
        if res is not None and res.status == ChargingProfileStatus.accepted:
            st.sent = self._effective(st, sp)
            st.sent_at = now
            return True
        st.profile_rejected += 1
        LOG.warning("%s: SetChargingProfile %s", st.id, getattr(res, "status", "failed"))
        return False

    def _effective(self, st: CpState, sp: Setpoint) -> tuple[Segment, ...]:
        """The plan as the charge point will follow it: limits as rounded in its unit [kW]."""
        prof = tx_profile(
            sp,
            unit=self.unit_of(st),
            profile_id=0,
            transaction_id=None,
            voltage_v=self.voltage_v,
            phases=self.phases,
            max_periods=st.max_periods,
        )
        pl = ProfileLimit(prof, voltage_v=self.voltage_v, phases=self.phases)
        return tuple(Segment(b, kw) for b, kw in zip(pl.breaks, pl.kw))

    async def clear_profile(self, cp: str) -> bool:
        st = self.states[cp]
        res = await self.request(st, call.ClearChargingProfile(id=self.profile_id(cp)))
        ok = res is not None and res.status == ClearChargingProfileStatus.accepted
        if ok:
            st.sent = ()
            st.setpoint = None
        return ok

    async def remote_stop(self, cp: str, *, wait_s: float = 0.0) -> bool:
        """RemoteStopTransaction; with ``wait_s`` also wait for the StopTransaction."""
        st = self.states[cp]
        if st.tx_id is None:
            return False
        waiter = asyncio.Event()
        if wait_s > 0:
            self.tx_waiters[cp] = waiter
        res = await self.request(st, call.RemoteStopTransaction(transaction_id=st.tx_id))
        ok = res is not None and res.status == RemoteStartStopStatus.accepted
        if ok and wait_s > 0:
            try:
                await asyncio.wait_for(waiter.wait(), wait_s)
            except asyncio.TimeoutError:
                LOG.warning("%s: no StopTransaction %.0f s after RemoteStop", cp, wait_s)
        self.tx_waiters.pop(cp, None)
        return ok

    async def remote_start(self, cp: str, id_tag: str, session: str | None = None) -> bool:
        st = self.states[cp]
        if session:
            self.session_hint[cp] = session
        res = await self.request(st, call.RemoteStartTransaction(id_tag=id_tag, connector_id=1))
        ok = res is not None and res.status == RemoteStartStopStatus.accepted
        if not ok and session:
            self.session_hint.pop(cp, None)
        return ok

    async def change_availability(self, cp: str, available: bool) -> str | None:
        st = self.states[cp]
        res = await self.request(
            st, call.ChangeAvailability(connector_id=0, type="Operative" if available else "Inoperative")
        )
        return None if res is None else str(res.status)
