"""The central system on the wire: who may connect, and its handlers against the 1.6J schemas.

A raw WebSocket client plays the charge point, so every frame is the test's own."""

from __future__ import annotations

import asyncio
import concurrent.futures
import base64
import json
import os
import stat
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from engine.ledger import Status
from engine.chargers import ChargerError, EventKind, Setpoint, make_chargers
from engine.site.model import load_site
from gateway.ocpp16.credentials import load_passwords, passwords_path
from gateway.ocpp16.port import OcppChargers

SITE = load_site("data/site.json")
CP = SITE.charge_points[0].id


@pytest.fixture()
def port(tmp_path):
    p = OcppChargers(SITE, port=0, state_dir=tmp_path, timeout_s=5.0)
    yield p
    p.close()


def _auth(cp: str, pw: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{cp}:{pw}".encode()).decode()}


class RawCp:
    """A hand-driven charge point: send a frame, read the answer."""

    def __init__(self, ws):
        self.ws = ws
        self.n = 0

    async def call(self, action: str, payload: dict) -> list:
        self.n += 1
        uid = f"m{self.n}"
        await self.ws.send(json.dumps([2, uid, action, payload]))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
            if msg[0] == 2:  # a call from the central system: answer it plainly
                await self.ws.send(json.dumps([3, msg[1], self.answer(msg[2], msg[3])]))
                continue
            assert msg[1] == uid
            return msg

    async def calls_from_csms(self, n: int) -> list[tuple[str, dict]]:
        """Answer the next ``n`` calls of the central system; their actions and payloads."""
        got = []
        while len(got) < n:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
            assert msg[0] == 2, msg
            got.append((msg[2], msg[3]))
            await self.ws.send(json.dumps([3, msg[1], self.answer(msg[2], msg[3])]))
        return got

    def answer(self, action: str, payload: dict) -> dict:
        if action == "GetConfiguration":
            return {"configurationKey": [{"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current"}]}
        if action == "SetChargingProfile":
            self.profile = payload
            return {"status": "Accepted"}
        if action == "TriggerMessage":
            return {"status": "Accepted"}
        return {}


def _events_until(port, n: int, timeout: float = 5.0) -> list:
    """The port's events once there are ``n`` (the server notices a closed socket a moment later)."""
    evs: list = []
    deadline = time.time() + timeout
    while len(evs) < n and time.time() < deadline:
        evs += port.events()
        time.sleep(0.02)
    return evs


def _run(coro):
    """Run the test's charge point on its own loop, in its own thread (another test, e.g. a
    browser one, may have left an event loop running in this one)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coro, 30)).result()


def test_unknown_charge_point_is_refused(port):
    async def go():
        with pytest.raises(InvalidStatus) as err:
            async with connect(f"{port.url}/NOPE-1", subprotocols=["ocpp1.6"], additional_headers=_auth("NOPE-1", "x")):
                pass
        return err.value.response.status_code

    assert _run(go()) == 404
    assert port.csms.refused == 1


@pytest.mark.parametrize("headers", [{}, "wrong", "other-user"])
def test_bad_credentials_get_401(port, headers):
    if headers == "wrong":
        headers = _auth(CP, "not-the-password")
    elif headers == "other-user":
        other = SITE.charge_points[1].id
        headers = _auth(other, port.passwords[other])  # a valid pair, but not this charge point's

    async def go():
        with pytest.raises(InvalidStatus) as err:
            async with connect(f"{port.url}/{CP}", subprotocols=["ocpp1.6"], additional_headers=headers):
                pass
        return err.value.response

    resp = _run(go())
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Basic")
    assert not port.connections()[CP].connected


def test_passwords_are_generated_once_in_the_state_folder(tmp_path):
    p1 = OcppChargers(SITE, port=0, state_dir=tmp_path)
    p1.close()
    f = passwords_path(tmp_path)
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    first = load_passwords(tmp_path)
    assert set(first) == {a.id for a in SITE.charge_points}
    assert all(len(pw) == 32 for pw in first.values())
    p2 = OcppChargers(SITE, port=0, state_dir=tmp_path)
    p2.close()
    assert load_passwords(tmp_path) == first


def test_without_the_ocpp_subprotocol_the_handshake_fails(port):
    async def go():
        with pytest.raises(InvalidStatus) as err:
            async with connect(f"{port.url}/{CP}", additional_headers=_auth(CP, port.passwords[CP])):
                pass
        return err.value.response.status_code

    assert _run(go()) == 400
    assert not port.connections()[CP].connected


def test_a_session_frame_by_frame(port):
    """Boot, status, authorize, start, meter values (kWh and kW units), profile in A, stop."""
    pw = port.passwords[CP]

    async def go():
        async with connect(f"{port.url}/{CP}", subprotocols=["ocpp1.6"], additional_headers=_auth(CP, pw)) as ws:
            assert ws.subprotocol == "ocpp1.6"
            cp = RawCp(ws)
            boot = await cp.call("BootNotification", {"chargePointVendor": "raw", "chargePointModel": "t"})
            assert boot[0] == 3 and boot[2]["status"] == "Accepted" and boot[2]["interval"] == 300
            assert (await cp.call("Heartbeat", {}))[2]["currentTime"].endswith("Z")
            await cp.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})
            auth = await cp.call("Authorize", {"idTag": "TAG1"})
            assert auth[2]["idTagInfo"]["status"] == "Accepted"
            await asyncio.sleep(0.2)  # let the central system read the configuration (unit: Current)
            start = await cp.call(
                "StartTransaction", {"connectorId": 1, "idTag": "TAG1", "meterStart": 1000, "timestamp": "2026-03-02T16:00:00Z"}
            )
            tx = start[2]["transactionId"]
            # a plan arrives: the central system sends it in amperes, as the charge point declared
            applying = asyncio.ensure_future(asyncio.to_thread(port.apply, [Setpoint(CP, 4.16, port.clock(), 5.0, (4.16,))]))
            await asyncio.sleep(0.1)
            # the next call reads (and answers) the SetChargingProfile waiting on the socket
            await cp.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"})
            await applying
            mv = {
                "connectorId": 1,
                "transactionId": tx,
                "meterValue": [
                    {
                        "timestamp": "2026-03-02T16:05:00Z",
                        "sampledValue": [
                            {"value": "1.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                            {"value": "4.1", "measurand": "Power.Active.Import", "unit": "kW"},
                            {"value": "55", "measurand": "SoC", "unit": "Percent", "location": "EV"},
                        ],
                    }
                ],
            }
            assert (await cp.call("MeterValues", mv))[0] == 3
            reading = (await asyncio.to_thread(port.read, port.clock()))[CP]
            stop = await cp.call(
                "StopTransaction", {"transactionId": tx, "meterStop": 2250, "timestamp": "2026-03-02T16:10:00Z", "reason": "EVDisconnected"}
            )
            assert stop[0] == 3
            return tx, cp.profile, reading

    tx, profile, reading = _run(go())
    sched = profile["csChargingProfiles"]["chargingSchedule"]
    assert sched["chargingRateUnit"] == "A"
    assert sched["chargingSchedulePeriod"][0]["limit"] == 20.0  # 4160 W / 208 V
    assert profile["csChargingProfiles"]["transactionId"] == tx
    assert reading.status == Status.CHARGING
    assert reading.energy_kwh == pytest.approx(0.5) and reading.meter_kwh == pytest.approx(1.5)
    assert reading.power_kw == pytest.approx(4.1) and reading.soc_pct == 55.0
    assert reading.transaction == f"ocpp-{tx}"
    evs = _events_until(port, 4)
    kinds = [e.kind for e in evs]
    assert kinds == [EventKind.CONNECTED, EventKind.PLUGGED, EventKind.UNPLUGGED, EventKind.DISCONNECTED]
    assert evs[2].detail["energy_kwh"] == pytest.approx(1.25)
    assert evs[2].detail["reason"] == "left" and evs[2].detail["ocpp_reason"] == "EVDisconnected"
    assert evs[1].at.isoformat() == "2026-03-02T08:00:00-08:00"  # site time
    assert port.ocpp_errors == 0
    assert port.read(port.clock())[CP].transaction is None


def test_invalid_messages_get_call_errors_and_are_counted(port):
    """The ocpp package validates against the 1.6J schemas: a bad frame is answered, not obeyed."""
    pw = port.passwords[CP]

    async def go():
        async with connect(f"{port.url}/{CP}", subprotocols=["ocpp1.6"], additional_headers=_auth(CP, pw)) as ws:
            cp = RawCp(ws)
            no_vendor = await cp.call("BootNotification", {"chargePointModel": "t"})
            bad_status = await cp.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"})
            unknown = await cp.call("FlyToTheMoon", {})
            return no_vendor, bad_status, unknown

    no_vendor, bad_status, unknown = _run(go())
    assert no_vendor[0] == 4 and no_vendor[2] == "ProtocolError"  # a required field is missing
    assert bad_status[0] == 4 and bad_status[2] == "FormatViolation"  # not one of the 1.6 statuses
    assert unknown[0] == 4 and unknown[2] == "NotSupported"
    assert port.ocpp_errors == 3
    assert port.read(port.clock())[CP].status == Status.UNAVAILABLE  # never reported a valid status


def test_make_chargers_finds_the_ocpp_port(tmp_path):
    p = make_chargers("ocpp", site=SITE, port=0, state_dir=tmp_path)
    try:
        assert isinstance(p, OcppChargers)
        with pytest.raises(ChargerError) as err:
            p.apply([Setpoint("NOPE", 1.0, p.clock(), 5.0)])
        assert str(err.value).startswith("cp:")
        assert p.plug is None and p.unplug is None and p.fault is None  # no simulated cars
        assert p.car(CP) is None
        with pytest.raises(ChargerError) as err:
            p.stop(CP)
        assert str(err.value) == f"cp: {CP} has no transaction to stop"
        conns = p.connections()
        assert set(conns) == {a.id for a in SITE.charge_points}
        assert not conns[CP].connected and conns[CP].last_message_age_s is None
    finally:
        p.close()


@pytest.mark.parametrize("var,value", [("EV_OCPP_PORT", "nine thousand"), ("EV_OCPP_PORT", "70000"), ("EV_OCPP_SIMULATE", "maybe")])
def test_bad_settings_name_the_variable(tmp_path, monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(ChargerError) as err:
        OcppChargers(SITE, state_dir=tmp_path, **({} if var == "EV_OCPP_PORT" else {"port": 0}))
    assert str(err.value).startswith(var + ":")


def test_simulation_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EV_OCPP_SIMULATE", "1")
    monkeypatch.setenv("EV_OCPP_PORT", "0")
    p = OcppChargers(SITE, state_dir=tmp_path)
    try:
        assert p.simulate and callable(p.plug) and p.port > 0
        assert all(c.connected for c in p.connections().values())
    finally:
        p.close()


def test_last_message_age_grows(port):
    pw = port.passwords[CP]

    async def go():
        async with connect(f"{port.url}/{CP}", subprotocols=["ocpp1.6"], additional_headers=_auth(CP, pw)) as ws:
            cp = RawCp(ws)
            await cp.call("Heartbeat", {})
            c1 = port.connections()[CP]
            await asyncio.sleep(0.3)
            return c1, port.connections()[CP]

    c1, c2 = _run(go())
    assert c1.connected and c2.connected
    assert c2.last_message_age_s >= c1.last_message_age_s + 0.25


def test_a_reconnecting_charge_point_is_asked_for_news_and_gets_its_plan_again(port):
    pw = port.passwords[CP]
    url = f"{port.url}/{CP}"

    async def go():
        async with connect(url, subprotocols=["ocpp1.6"], additional_headers=_auth(CP, pw)) as ws:
            cp = RawCp(ws)
            await cp.call("BootNotification", {"chargePointVendor": "raw", "chargePointModel": "t"})
            after_boot = await cp.calls_from_csms(2)
            start = await cp.call(
                "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-03-02T16:00:00Z"}
            )
            tx = start[2]["transactionId"]
            applying = asyncio.ensure_future(asyncio.to_thread(port.apply, [Setpoint(CP, 4.16, port.clock(), 5.0, (4.16,))]))
            first = await cp.calls_from_csms(1)
            await applying
        # the connection drops; the charge point comes back without rebooting
        async with connect(url, subprotocols=["ocpp1.6"], additional_headers=_auth(CP, pw)) as ws:
            cp = RawCp(ws)
            again = await cp.calls_from_csms(3)
            await cp.call("Heartbeat", {})
        return tx, first, again, after_boot

    tx, first, again, after_boot = _run(go())
    assert [a for a, _ in after_boot] == ["GetConfiguration", "SetChargingProfile"]
    default = after_boot[1][1]
    assert default["connectorId"] == 0
    assert default["csChargingProfiles"]["chargingProfilePurpose"] == "TxDefaultProfile"
    assert default["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 0.0}]
    assert default["csChargingProfiles"]["chargingSchedule"]["chargingRateUnit"] == "A"  # as declared
    assert first[0][0] == "SetChargingProfile"
    assert [a for a, _ in again] == ["TriggerMessage", "TriggerMessage", "SetChargingProfile"]
    assert again[0][1] == {"requestedMessage": "StatusNotification", "connectorId": 1}
    assert again[1][1] == {"requestedMessage": "MeterValues", "connectorId": 1}
    assert again[2][1]["csChargingProfiles"]["transactionId"] == tx
    assert again[2][1]["csChargingProfiles"]["chargingSchedule"] == first[0][1]["csChargingProfiles"]["chargingSchedule"]
    evs = _events_until(port, 5)
    assert [e.kind for e in evs] == ["connected", "plugged", "disconnected", "connected", "disconnected"]
    assert evs[3].detail["reconnect"] is True and evs[3].transaction == evs[1].transaction
    assert port.read(port.clock())[CP].transaction == evs[1].transaction  # still open


def test_a_slow_charge_point_does_not_hold_the_control_loop(tmp_path):
    port = OcppChargers(SITE, port=0, state_dir=tmp_path, command_wait_s=0.2, timeout_s=10.0, default_kw=None)
    pw = port.passwords[CP]

    async def go():
        async with connect(f"{port.url}/{CP}", subprotocols=["ocpp1.6"], additional_headers=_auth(CP, pw)) as ws:
            cp = RawCp(ws)
            await cp.call("BootNotification", {"chargePointVendor": "raw", "chargePointModel": "t"})
            await cp.calls_from_csms(1)  # GetConfiguration
            await cp.call("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-03-02T16:00:00Z"})
            await asyncio.to_thread(port.apply, [Setpoint(CP, 4.16, port.clock(), 5.0, (4.16,))])
            # apply has returned; the profile is still waiting on the socket, unanswered
            accepted_before = port.csms.states[CP].sent
            got = await cp.calls_from_csms(1)
            for _ in range(100):
                if port.csms.states[CP].sent:
                    break
                await asyncio.sleep(0.02)
            return accepted_before, got, port.csms.states[CP].sent

    try:
        before, got, after = _run(go())
    finally:
        port.close()
    assert before == ()
    assert got[0][0] == "SetChargingProfile"
    assert after and after[0].limit_kw == pytest.approx(20.0 * 208 / 1000)  # in A, as declared
    assert port.ocpp_errors == 0


def test_meter_values_per_phase_are_added_and_connector_0_counts_when_faulted(port):
    pw = port.passwords[CP]

    def sample(value, measurand, unit, phase=None, location=None):
        d = {"value": value, "measurand": measurand, "unit": unit}
        if phase:
            d["phase"] = phase
        if location:
            d["location"] = location
        return d

    async def go():
        async with connect(f"{port.url}/{CP}", subprotocols=["ocpp1.6"], additional_headers=_auth(CP, pw)) as ws:
            cp = RawCp(ws)
            await cp.call("BootNotification", {"chargePointVendor": "raw", "chargePointModel": "t"})
            await cp.call("StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"})
            await cp.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"})
            s1 = (await asyncio.to_thread(port.latest))[CP].status
            tx = (await cp.call("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-03-02T16:00:00Z"}))[2]["transactionId"]
            await cp.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"})
            await cp.call("StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"})
            s2 = (await asyncio.to_thread(port.latest))[CP].status
            mv = [{"timestamp": "2026-03-02T16:05:00Z", "sampledValue": [
                sample("1000", "Power.Active.Import", "W", "L1"), sample("1100", "Power.Active.Import", "W", "L2"),
                sample("1200", "Power.Active.Import", "W", "L3"), sample("0.3", "Energy.Active.Import.Register", "kWh"),
                sample("9.9", "Power.Active.Import", "kW", location="Inlet"), sample("61", "SoC", "Percent", location="EV"),
            ]}]
            await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": mv})
            r = (await asyncio.to_thread(port.latest))[CP]
            await cp.call("StatusNotification", {"connectorId": 0, "errorCode": "GroundFailure", "status": "Faulted"})
            s3 = (await asyncio.to_thread(port.latest))[CP].status
            await cp.call("StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"})
            s4 = (await asyncio.to_thread(port.latest))[CP].status
            return s1, s2, r, s3, s4

    s1, s2, r, s3, s4 = _run(go())
    assert (s1, s2, s3, s4) == (Status.PREPARING, Status.CHARGING, Status.FAULTED, Status.CHARGING)
    assert r.power_kw == pytest.approx(3.3) and r.energy_kwh == pytest.approx(0.3) and r.soc_pct == 61.0
    kinds = [(e.kind, e.detail.get("error_code")) for e in _events_until(port, 5) if e.kind in ("fault", "recovered")]
    assert kinds == [("fault", "GroundFailure"), ("recovered", None)]


def test_late_readings_are_dropped_unless_the_register_grew(port):
    pw = port.passwords[CP]

    def mv(tx, t, wh):
        return {"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": t, "sampledValue": [
            {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}

    async def go():
        async with connect(f"{port.url}/{CP}", subprotocols=["ocpp1.6"], additional_headers=_auth(CP, pw)) as ws:
            cp = RawCp(ws)
            await cp.call("BootNotification", {"chargePointVendor": "raw", "chargePointModel": "t"})
            tx = (await cp.call("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-03-02T16:00:00Z"}))[2]["transactionId"]
            out = []
            for t, wh in [("2026-03-02T16:10:00Z", 500), ("2026-03-02T16:05:00Z", 250), ("2026-03-02T16:07:00Z", 800)]:
                await cp.call("MeterValues", mv(tx, t, wh))
                out.append((await asyncio.to_thread(port.latest))[CP].energy_kwh)
            return out

    assert _run(go()) == [pytest.approx(0.5), pytest.approx(0.5), pytest.approx(0.8)]
