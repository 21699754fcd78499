"""The OCPP 1.6J central system (CSMS): the ``ocpp`` package on ``websockets``, asyncio only.

Charge points connect to ``ws://HOST:PORT/<charge point id>`` with subprotocol ``ocpp1.6`` and
HTTP Basic auth (user = the charge point id, password from the state folder). Unknown ids get
HTTP 404, bad credentials 401. Everything the runtime needs is kept per charge point in a
:class:`CpState` that outlives its connections, so a charge point that drops and reconnects
resumes its transaction; on every reconnect the central system asks for a fresh
StatusNotification and MeterValues (TriggerMessage) and re-sends the plan in force.

Events for the runtime (:class:`engine.chargers.ChargerEvent`) are passed to ``emit``:
PLUGGED on StartTransaction, UNPLUGGED on StopTransaction, FAULT / RECOVERED on
StatusNotification, CONNECTED / DISCONNECTED, NONCOMPLIANT when a meter reading exceeds the
limit in force (RECOVERED with ``detail["reason"] == "compliant"`` when it complies again).

This module is used from one event loop thread (see :mod:`gateway.ocpp16.port`); nothing in
it is thread-safe on its own.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import http
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import unquote, urlsplit

import ocpp.messages
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as _OcppChargePoint
from ocpp.v16 import call
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    ChargingProfileStatus,
    ClearChargingProfileStatus,
    MessageTrigger,
    RegistrationStatus,
    RemoteStartStopStatus,
)
from ocpp.v16 import call_result
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from engine.files import atomic_write_text
from engine.ledger import Status
from engine.chargers import ChargerEvent, EventKind, Setpoint
from gateway.ocpp16.tasks import FollowUps

from .profiles import ProfileLimit, Segment, iso, parse_time, segments_from, to_unit, tx_profile

__all__ = ["CentralSystem", "CpState", "STATUS_OF", "SUBPROTOCOL", "REASON_OF"]

LOG = logging.getLogger("gateway.ocpp16.csms")

# The package validates every message against the 1.6J schemas. By default it does so in a
# thread pool, which costs more than the validation itself for our small messages: validate
# inline (still every message, both directions).
ocpp.messages.ASYNC_VALIDATION = False

SUBPROTOCOL = "ocpp1.6"

DEFAULT_PROFILE_ID = 100_000  # the TxDefaultProfile's chargingProfileId (TxProfiles count from 1)

#: StopTransaction reasons in the runtime's words (``ChargerEvent.detail["reason"]``)
REASON_OF = {"EVDisconnected": "left", "Remote": "stopped", "Local": "stopped"}

STATUS_OF = {
    "Available": Status.AVAILABLE,
    "Preparing": Status.PREPARING,
    "Charging": Status.CHARGING,
    "SuspendedEVSE": Status.SUSPENDED_EVSE,
    "SuspendedEV": Status.SUSPENDED_EV,
    "Finishing": Status.FINISHING,
    "Reserved": Status.RESERVED,
    "Unavailable": Status.UNAVAILABLE,
    "Faulted": Status.FAULTED,
}


@dataclass
class CpState:
    """What the central system knows of one charge point (kept across connections).

    Power [kW], energy [kWh], limits [kW], times site-clock datetimes unless named ``_wall``.
    """

    id: str
    unit: str | None = None  # "W" or "A": the per-CP setting, else what the CP declares
    unit_fixed: bool = False  # set by the operator: do not ask the charge point
    max_periods: int | None = None
    connected: bool = False
    connections: int = 0
    booted: bool = False
    vendor: str = ""
    model: str = ""
    last_message_wall: float | None = None  # time.time() of the last frame received
    status: Status = Status.UNAVAILABLE  # the charge point's, from connectors 0 and 1
    status0: Status | None = None  # connector 0 (the charge point as a whole)
    status1: Status | None = None  # connector 1 (the EVSE)
    error_code: str = "NoError"
    power_kw: float = 0.0
    register_kwh: float = 0.0
    soc_pct: float | None = None
    meter_at: datetime | None = None
    tx_id: int | None = None
    session: str | None = None
    meter_start_kwh: float = 0.0
    tx_started_at: datetime | None = None
    setpoint: Setpoint | None = None  # last plan from the runtime
    sent: tuple[Segment, ...] = ()  # the profile the CP accepted (step function, kW)
    sent_at: datetime | None = None
    profile_rejected: int = 0
    noncompliant: bool = False
    conn: "CsmsChargePoint | None" = None
    config_task: asyncio.Task | None = None  # reading its configuration after boot

    @property
    def energy_kwh(self) -> float:
        return max(0.0, self.register_kwh - self.meter_start_kwh) if self.tx_id is not None else 0.0

    def limit_kw(self, t: datetime) -> float | None:
        """The limit of the accepted profile at ``t`` [kW] (None: no profile in force)."""
        if not self.sent:
            return None
        lim = self.sent[0].limit_kw
        for s in self.sent:
            if s.start <= t:
                lim = s.limit_kw
            else:
                break
        return lim


class CsmsChargePoint(_OcppChargePoint):
    """One connection's message handlers (the state lives in :class:`CpState`)."""

    def __init__(self, cp_id: str, connection: ServerConnection, central: "CentralSystem"):
        super().__init__(cp_id, connection, response_timeout=central.response_timeout)
        self.central = central
        self.state = central.states[cp_id]

    # -- counting every frame ------------------------------------------------------------------
    async def route_message(self, raw_msg):  # noqa: D401 - ocpp's hook
        self.central.messages += 1
        self.state.last_message_wall = time.time()
        if raw_msg.lstrip().startswith("[4"):
            self.central.errors += 1
            LOG.warning("%s: CallError received: %s", self.id, raw_msg[:300])
        return await super().route_message(raw_msg)

    async def _send(self, message):
        self.central.messages += 1
        if message.lstrip().startswith("[4"):
            self.central.errors += 1
            LOG.warning("%s: CallError sent: %s", self.id, message[:300])
        await self._connection.send(message)

    # -- from the charge point -------------------------------------------------------------------
    @on(Action.boot_notification)
    def on_boot_notification(self, charge_point_vendor, charge_point_model, **kwargs):
        self.state.vendor, self.state.model = charge_point_vendor, charge_point_model
        self.state.booted = True
        return call_result.BootNotification(
            current_time=iso(self.central.clock()),
            interval=self.central.heartbeat_s,
            status=RegistrationStatus.accepted,
        )

    @after(Action.boot_notification)
    def after_boot_notification(self, **kwargs):
        self.state.config_task = self.central.spawn(self.central.after_boot(self.state))

    @on(Action.heartbeat)
    def on_heartbeat(self, **kwargs):
        return call_result.Heartbeat(current_time=iso(self.central.clock()))

    @on(Action.status_notification)
    def on_status_notification(self, connector_id, error_code, status, **kwargs):
        self.central.on_status(self.state, connector_id, error_code, status, kwargs.get("timestamp"))
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag, **kwargs):
        return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.start_transaction)
    def on_start_transaction(self, connector_id, id_tag, meter_start, timestamp, **kwargs):
        tx = self.central.on_start(self.state, id_tag, meter_start, timestamp)
        return call_result.StartTransaction(transaction_id=tx, id_tag_info={"status": AuthorizationStatus.accepted})

    @after(Action.start_transaction)
    def after_start_transaction(self, **kwargs):
        self.central.spawn(self.central.send_profile(self.state, force=True))

    @on(Action.stop_transaction)
    def on_stop_transaction(self, meter_stop, timestamp, transaction_id, **kwargs):
        self.central.on_stop(
            self.state, meter_stop, timestamp, transaction_id, kwargs.get("reason"), kwargs.get("transaction_data")
        )
        return call_result.StopTransaction(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.meter_values)
    def on_meter_values(self, connector_id, meter_value, **kwargs):
        self.central.on_meter(self.state, meter_value, kwargs.get("transaction_id"))
        return call_result.MeterValues()

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id, **kwargs):
        return call_result.DataTransfer(status="UnknownVendorId")


def _sampled(meter_value: list[dict[str, Any]]) -> tuple[datetime | None, dict[str, float]]:
    """The latest sample of each measurand, in kWh, kW and %.

    A total (no ``phase``) is taken as is; without one, the line phases (L1, L2, L3, or
    L1-N ...) are added up. Only the ``Outlet`` location (the default) counts for energy and
    power; the SoC comes from the EV.
    """
    latest: datetime | None = None
    out: dict[str, float] = {}
    for mv in sorted(meter_value, key=lambda m: m["timestamp"]):
        t = parse_time(mv["timestamp"])
        latest = t if latest is None or t > latest else latest
        totals: dict[str, float] = {}
        phases: dict[str, float] = {}
        for sv in mv.get("sampled_value", []):
            measurand = sv.get("measurand", "Energy.Active.Import.Register")
            try:
                v = float(sv["value"])
            except (KeyError, ValueError):
                continue
            if measurand == "SoC":
                out["soc_pct"] = v
                continue
            if sv.get("location", "Outlet") != "Outlet":
                continue
            unit = sv.get("unit")
            if measurand == "Energy.Active.Import.Register":
                key, x = "energy_kwh", (v if unit == "kWh" else v / 1000.0)
            elif measurand == "Power.Active.Import":
                key, x = "power_kw", (v if unit == "kW" else v / 1000.0)
            else:
                continue
            phase = sv.get("phase")
            if phase is None:
                totals[key] = x
            elif phase in ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N"):
                phases[key] = phases.get(key, 0.0) + x
        out.update(phases)
        out.update(totals)
    return latest, out


class CentralSystem(FollowUps):
    """The central system: a websockets server and the charge points' states.

    Parameters
    ----------
    cp_ids : iterable of str
        The known charge point ids (others are refused).
    passwords : dict
        Charge point id -> password (HTTP Basic auth).
    clock : callable
        Site time now (aware datetime).
    emit : callable
        Receives each :class:`ChargerEvent`.
    amend : callable or None
        ``amend(cp, session, detail)``: news for a PLUGGED event already emitted (the SoC
        that comes with the transaction's first meter values).
    host, port : str, int
        Where to listen (port 0: any free port, see :attr:`port`).
    units : dict
        Per charge point ``"W"`` or ``"A"``; a charge point not named declares its own
        (``ChargingScheduleAllowedChargingRateUnit``), else ``default_unit``.
    voltage_v : float
        Supply voltage for limits in amperes [V].
    phases : int
    heartbeat_s : int
        Heartbeat interval given at boot [s].
    response_timeout : float
        How long to wait for a charge point's answer [s].
    noncompliance_tol_kw, noncompliance_tol_frac : float
        A reading above ``limit + max(tol_kw, tol_frac * limit)`` is non-compliant.
    grace_s : float
        Readings taken less than this after a profile was accepted are not judged [s].
    state_file : Path or None
        Where the open transactions and the next transaction id are kept.
    compression : "deflate" or None
        Offer permessage-deflate (a charge point may decline it).
    default_kw : float or None
        Sent at boot as a TxDefaultProfile: what a transaction may draw before its first plan
        [kW] (0: nothing until planned, as the runtime's simulator does); None: send none.
    lead_in_s : int
        Profiles start this long before their setpoint, in its first limit [s] (clock skew).
    """

    def __init__(
        self,
        cp_ids: Iterable[str],
        passwords: dict[str, str],
        *,
        clock: Callable[[], datetime],
        emit: Callable[[ChargerEvent], None],
        amend: Callable[[str, str, dict[str, Any]], None] | None = None,
        host: str = "127.0.0.1",
        port: int = 9000,
        units: dict[str, str] | None = None,
        default_unit: str = "W",
        voltage_v: float = 230.0,
        phases: int = 1,
        heartbeat_s: int = 300,
        response_timeout: float = 30.0,
        noncompliance_tol_kw: float = 0.1,
        noncompliance_tol_frac: float = 0.02,
        grace_s: float = 60.0,
        state_file: Path | None = None,
        compression: str | None = "deflate",
        default_kw: float | None = 0.0,
        lead_in_s: int = 60,
    ):
        self.lead_in_s = lead_in_s
        self.compression = compression
        self.default_kw = default_kw
        self.states = {cp: CpState(cp) for cp in cp_ids}
        for cp, u in (units or {}).items():
            if cp in self.states:
                self.states[cp].unit = u
                self.states[cp].unit_fixed = True
        self.passwords = dict(passwords)
        self.clock = clock
        self.emit = emit
        self.amend = amend
        self.host = host
        self.port = port
        self.default_unit = default_unit
        self.voltage_v = voltage_v
        self.phases = phases
        self.heartbeat_s = heartbeat_s
        self.response_timeout = response_timeout
        self.tol_kw = noncompliance_tol_kw
        self.tol_frac = noncompliance_tol_frac
        self.grace_s = grace_s
        self.state_file = state_file
        self.messages = 0
        self.errors = 0
        self.refused = 0
        self.session_hint: dict[str, str] = {}  # cp -> session id for its next transaction
        self.tx_waiters: dict[str, asyncio.Event] = {}
        self._next_tx = 1
        self._profile_ids: dict[str, int] = {}
        self._server = None
        self._tasks: set[asyncio.Task] = set()
        self._load_transactions()

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

    # -- server ---------------------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await serve(
            self._handler,
            self.host,
            self.port,
            subprotocols=[SUBPROTOCOL],
            process_request=self._check_request,
            ping_interval=None,
            compression=self.compression,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cancel_follow_ups()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @staticmethod
    def cp_id_of(path: str) -> str:
        """The charge point id in a request path (its last segment, URL-decoded)."""
        return unquote(urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1])

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        cp = self.cp_id_of(request.path)
        if cp not in self.states:
            self.refused += 1
            LOG.warning("refused unknown charge point %r", cp)
            return connection.respond(http.HTTPStatus.NOT_FOUND, f"unknown charge point {cp!r}\n")
        if not self._authorized(cp, request.headers):
            self.refused += 1
            LOG.warning("refused %s: bad or missing credentials", cp)
            resp = connection.respond(http.HTTPStatus.UNAUTHORIZED, "bad or missing credentials\n")
            resp.headers["WWW-Authenticate"] = 'Basic realm="ocpp", charset="UTF-8"'
            return resp
        return None

    def _authorized(self, cp: str, headers: Headers) -> bool:
        value = headers.get("Authorization", "")
        scheme, _, b64 = value.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, pw = base64.b64decode(b64.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        want = self.passwords.get(cp)
        return want is not None and user == cp and hmac.compare_digest(pw.encode(), want.encode())

    async def _handler(self, ws: ServerConnection) -> None:
        cp = self.cp_id_of(ws.request.path)
        if ws.subprotocol != SUBPROTOCOL:
            self.refused += 1
            await ws.close(1002, "subprotocol ocpp1.6 required")
            return
        st = self.states[cp]
        old = st.conn
        conn = CsmsChargePoint(cp, ws, self)
        st.conn = conn
        if old is not None:  # the new connection replaces a half-open one
            await old._connection.close()
        reconnect = st.connections > 0
        st.connections += 1
        st.connected = True
        st.last_message_wall = time.time()
        self.emit(ChargerEvent(EventKind.CONNECTED, cp, self.clock(), st.session if st.tx_id is not None else None, {"reconnect": reconnect}))
        if st.booted or st.tx_id is not None:
            self.spawn(self.after_reconnect(st))
        try:
            await conn.start()
        except ConnectionClosed:
            pass
        finally:
            if st.conn is conn:
                st.conn = None
                st.connected = False
                self.emit(ChargerEvent(EventKind.DISCONNECTED, cp, self.clock(), st.session if st.tx_id is not None else None, {}))


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

    # -- incoming messages ----------------------------------------------------------------------------
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
            t_end, v = _sampled(transaction_data)
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
        at, v = _sampled(meter_value)
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
