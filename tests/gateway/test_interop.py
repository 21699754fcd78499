"""Interop: a charge point written with the npm package ocpp-rpc (its own 1.6J schemas, strict
mode) boots, starts a transaction, receives its profile and reports meter values against our
central system, then stops on RemoteStopTransaction."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from engine.chargers import EventKind, Setpoint
from engine.site.model import load_site
from gateway.ocpp16.port import OcppChargers

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "gateway" / "ocpp_rpc_cp.js"
OCPP_RPC = ROOT / "node_modules" / "ocpp-rpc" / "package.json"


def _need_node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (the interop test runs an ocpp-rpc charge point)", pytrace=False)
    if not OCPP_RPC.is_file():
        pytest.fail(f"ocpp-rpc missing: run `npm install` in {ROOT} (package.json pins it)", pytrace=False)
    return node


class NodeCp:
    """The ocpp-rpc charge point process; its JSON lines arrive on :attr:`lines`."""

    def __init__(self, node: str, env: dict[str, str]):
        self.proc = subprocess.Popen(
            [node, str(SCRIPT)], cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        self.backlog: list[dict] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except json.JSONDecodeError:
                self.lines.put({"event": "garbage", "line": line})

    def expect(self, event: str, timeout: float = 20.0) -> dict:
        """The next line of kind ``event`` (lines of other kinds wait for their turn)."""
        for i, msg in enumerate(self.backlog):
            if msg["event"] == event:
                return self.backlog.pop(i)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                msg = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(msg)
            assert msg["event"] not in ("error", "strict_failure", "garbage", "unhandled", "profile_rejected"), msg
            if msg["event"] == event:
                return msg
            self.backlog.append(msg)
        err = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
        raise AssertionError(f"no {event!r} from the ocpp-rpc charge point; saw {self.seen}; stderr {err}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def _wait(pred, timeout: float = 10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.parametrize("unit,want", [("Power", "W"), ("Current", "A")])
def test_ocpp_rpc_charge_point(tmp_path, unit, want):
    node = _need_node()
    site = load_site(ROOT / "data" / "site.json")
    cp = site.charge_points[0].id
    volts = float(site.extra["voltage_v"])
    port = OcppChargers(site, port=0, state_dir=tmp_path)
    proc = None
    try:
        now = port.clock()
        # the plan in force before the car arrives: sent as a TxProfile once the transaction starts
        port.apply([Setpoint(cp, 5.0, now - timedelta(minutes=1), 5.0, (5.0, 4.0))])
        proc = NodeCp(node, {"CSMS_URL": port.url, "CP_ID": cp, "CP_PASSWORD": port.passwords[cp], "CP_UNIT": unit, "CP_VOLTAGE": str(volts)})
        assert proc.expect("boot")["status"] == "Accepted"
        default = proc.expect("default_profile")["profile"]
        assert default["chargingSchedule"]["chargingRateUnit"] == want
        assert default["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 0}]
        assert proc.expect("authorized")["status"] == "Accepted"
        tx = proc.expect("started")["transaction_id"]
        prof = proc.expect("profile")["profile"]
        sched = prof["chargingSchedule"]
        assert prof["chargingProfilePurpose"] == "TxProfile" and prof["chargingProfileKind"] == "Absolute"
        assert prof["transactionId"] == tx
        assert sched["chargingRateUnit"] == want
        limits = [p["limit"] for p in sched["chargingSchedulePeriod"]]
        starts = [p["startPeriod"] for p in sched["chargingSchedulePeriod"]]
        assert starts == [0, 360, 660]  # 60 s lead-in before the plan's start
        if want == "W":
            assert limits == [5000.0, 4000.0, 0.0]
        else:  # rounded down to 0.1 A at the site's voltage
            assert limits == [pytest.approx(24.0), pytest.approx(19.2), 0.0]
        sent = proc.expect("meter_sent")
        ev = _wait(lambda: [e for e in port.events() if e.kind == EventKind.PLUGGED])
        assert ev[0].cp == cp and ev[0].detail["ocpp_transaction_id"] == tx
        session = ev[0].transaction

        def metered():
            r = port.read(port.clock())[cp]
            return r if r.energy_kwh > 0 else None

        r = _wait(metered)
        assert r.transaction == session
        assert r.power_kw == pytest.approx(sent["power_w"] / 1000.0)
        assert r.energy_kwh == pytest.approx(0.25)
        assert r.soc_pct == 42.0
        # a new plan reaches the charge point
        port.apply([Setpoint(cp, 3.3, port.clock(), 5.0, (3.3,))])
        prof2 = proc.expect("profile")["profile"]
        assert prof2["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == (3300.0 if want == "W" else pytest.approx(15.8))
        proc.expect("meter_sent")
        port.stop(cp)
        proc.expect("stopped")
        assert proc.expect("done")["failures"] == []
        assert proc.proc.wait(20) == 0
        ends = _wait(lambda: [e for e in port.events() if e.kind == EventKind.UNPLUGGED])
        assert ends[0].transaction == session and ends[0].detail["reason"] == "stopped"
        assert ends[0].detail["energy_kwh"] == pytest.approx(0.5)
        assert port.ocpp_errors == 0
        assert port.ocpp_messages >= 20
    finally:
        if proc is not None:
            proc.close()
        port.close()
