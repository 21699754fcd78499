"""`python -m gateway.ocpp16.sim` as its own process, on the wall clock, told what to do on stdin."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from engine.chargers import EventKind, Setpoint
from engine.site.model import load_site
from gateway.ocpp16.port import OcppChargers

ROOT = Path(__file__).resolve().parents[2]
SITE = load_site(ROOT / "data" / "site.json")
CP, CP2 = SITE.charge_points[0].id, SITE.charge_points[1].id


def _wait_event(port, kind, cp, timeout=15.0, seen=None):
    seen = [] if seen is None else seen
    deadline = time.time() + timeout
    while time.time() < deadline:
        seen.extend(port.events())
        for e in seen:
            if e.kind == kind and e.cp == cp:
                seen.remove(e)
                return e
        time.sleep(0.05)
    raise AssertionError(f"no {kind} at {cp}; saw {seen}")


def test_sim_process_plugs_follows_faults_and_reconnects(tmp_path):
    port = OcppChargers(SITE, port=0, state_dir=tmp_path, timeout_s=10.0)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.ocpp16.sim", "--csms", port.url, "--site", str(ROOT / "data" / "site.json"),
         "--state-dir", str(tmp_path), "--cp", CP, "--cp", CP2, "--interval", "0.2"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out: list[str] = []
    threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True).start()

    def cmd(line: str) -> None:
        proc.stdin.write(line + "\n")
        proc.stdin.flush()

    try:
        seen: list = []
        _wait_event(port, EventKind.CONNECTED, CP, seen=seen)
        _wait_event(port, EventKind.CONNECTED, CP2, seen=seen)
        port.apply([Setpoint(CP, 2.0, port.clock() - timedelta(minutes=1), 60.0, (2.0,))])
        cmd(f"plug {CP} 60 20 7.2 2")
        ev = _wait_event(port, EventKind.PLUGGED, CP, seen=seen)
        assert ev.transaction == f"ocpp-{ev.detail['ocpp_transaction_id']}"  # no hint from another process
        assert ev.detail["id_tag"].startswith(f"{CP}-")

        def limited():
            r = port.read(port.clock())[CP]
            return r if r.power_kw > 0 and r.energy_kwh > 0 else None

        deadline = time.time() + 15
        r = None
        while r is None and time.time() < deadline:
            r = limited()
            time.sleep(0.1)
        assert r is not None, out
        assert r.power_kw == pytest.approx(2.0)  # the profile, not the car's 7.2 kW
        cmd(f"fault {CP}")
        _wait_event(port, EventKind.FAULT, CP, seen=seen)
        cmd(f"recover {CP}")
        _wait_event(port, EventKind.RECOVERED, CP, seen=seen)
        cmd(f"disconnect {CP2}")
        _wait_event(port, EventKind.DISCONNECTED, CP2, seen=seen)
        cmd(f"reconnect {CP2}")
        ev = _wait_event(port, EventKind.CONNECTED, CP2, seen=seen)
        assert ev.detail["reconnect"] is True
        cmd(f"unplug {CP}")
        ev = _wait_event(port, EventKind.UNPLUGGED, CP, seen=seen)
        assert ev.detail["energy_kwh"] >= 0.0
        assert port.ocpp_errors == 0
    finally:
        proc.stdin.close()
        try:
            proc.wait(15)
        finally:
            if proc.poll() is None:
                proc.kill()
            port.close()
    assert proc.returncode == 0, proc.stderr.read()
    assert any(line.startswith("2 charge points connected") for line in out)


def test_sim_without_passwords_says_so(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "gateway.ocpp16.sim", "--csms", "ws://127.0.0.1:1", "--site", str(ROOT / "data" / "site.json"),
         "--state-dir", str(tmp_path), "--no-stdin"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert res.returncode == 2
    assert res.stderr.startswith("--state-dir: no password for")


def test_csms_command_prints_a_charge_points_password(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "gateway.ocpp16", "--site", str(ROOT / "data" / "site.json"), "--state-dir", str(tmp_path),
         "--password", CP],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert res.returncode == 0, res.stderr
    from gateway.ocpp16.credentials import load_passwords

    assert res.stdout.strip() == load_passwords(tmp_path)[CP]
    assert len(res.stdout.strip()) == 32
    bad = subprocess.run(
        [sys.executable, "-m", "gateway.ocpp16", "--site", str(ROOT / "data" / "site.json"), "--state-dir", str(tmp_path),
         "--password", "NOPE"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("--password: unknown charge point")
