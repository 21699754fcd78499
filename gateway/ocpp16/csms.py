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

The central system is put together from three parts: this module (the server, the credentials
check, one :class:`CsmsChargePoint` per connection), :mod:`gateway.ocpp16.csms_events` (what the
charge points report) and :mod:`gateway.ocpp16.csms_commands` (what it asks of them); the
per charge point state is :mod:`gateway.ocpp16.cpstate`.

This module is used from one event loop thread (see :mod:`gateway.ocpp16.port`); nothing in
it is thread-safe on its own.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import http
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import unquote, urlsplit

import ocpp.messages
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as _OcppChargePoint
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from engine.chargers import ChargerEvent, EventKind

from .cpstate import REASON_OF, STATUS_OF, CpState
from .csms_commands import DEFAULT_PROFILE_ID, Commands
from .csms_events import TransactionEvents
from .profiles import iso
from .tasks import FollowUps

__all__ = ["CentralSystem", "CpState", "CsmsChargePoint", "DEFAULT_PROFILE_ID", "STATUS_OF", "SUBPROTOCOL", "REASON_OF"]

LOG = logging.getLogger("gateway.ocpp16.csms")

# The package validates every message against the 1.6J schemas. By default it does so in a
# thread pool, which costs more than the validation itself for our small messages: validate
# inline (still every message, both directions).
ocpp.messages.ASYNC_VALIDATION = False

SUBPROTOCOL = "ocpp1.6"


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




class CentralSystem(TransactionEvents, Commands, FollowUps):
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
