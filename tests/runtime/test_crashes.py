"""The journal under crashes and concurrent processes (issue: nothing booked is ever lost, nothing
over-promised, whatever was open when a process died is planned again on restart)."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

import engine.runtime.journal as journal_module
from engine.kiosk import Kiosk
from engine.runtime.app import build_runtime
from engine.runtime.controller import CarState
from engine.runtime.journal import Journal, JournalError
from engine.runtime.loop import decide
from engine.site.store import SiteStore
from tests.runtime.conftest import NOW, Rig

ROOT = Path(__file__).resolve().parents[2]

BOOKER = textwrap.dedent("""
    import sys, time
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo
    from engine.kiosk import Kiosk, KioskError
    from engine.runtime.clock import SteppableClock
    from engine.runtime.journal import Journal
    from engine.runtime.simulator import SimulatedChargers
    from engine.runtime.site_runtime import SiteRuntime
    from engine.site.store import SiteStore

    folder, cps, kwh = sys.argv[1], sys.argv[2].split(","), float(sys.argv[3])
    now = datetime(2026, 5, 6, 8, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    store = SiteStore(folder)
    journal = Journal(folder)
    rt = SiteRuntime(store.site, journal, SimulatedChargers(store.site()), SteppableClock(now))
    k = Kiosk(rt)
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    for cp in cps:
        try:
            s, q = k.book(cp, now + timedelta(hours=3), kwh, now)
            print("booked", s.id, s.guaranteed_kwh, flush=True)
        except KioskError as exc:
            print("refused", cp, exc, flush=True)
""")


def _spawn(folder, cps, kwh):
    return subprocess.Popen([sys.executable, "-c", BOOKER, str(folder), ",".join(cps), str(kwh)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_processes_booking_on_one_cabinet_never_over_promise(tmp_path):
    folder = tmp_path / "s"
    rig = Rig(folder)
    # what AV-POD can deliver in 3 h to one more car, alone: the most any set of promises may add up to
    cap = rig.kiosk.quote("CA-508", NOW + timedelta(hours=3), 200.0, NOW)
    av = [a.id for a in rig.store.site().charge_points if a.cabinet == "AV-POD"]
    procs = [_spawn(folder, [cp], 20.0) for cp in av[:3]]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=120)[0] for p in procs]
    booked = [line.split() for out in outs for line in out.splitlines() if line.startswith("booked")]
    assert len(booked) == 3
    total = sum(float(b[2]) for b in booked)
    # serialised: each later booking was quoted on what the earlier ones left, so the cabinet can
    # keep all three promises at once (unserialised, each was promised 19.97 kWh: 59.9 > 49.9)
    j = Journal(folder)
    assert {s.id for s in j.sessions()} == {b[1] for b in booked}
    site = rig.store.site()
    cars = [CarState(s, rated_kw=6.656) for s in j.sessions(open_only=True)]
    d = decide(site, "AV-POD", NOW, cars)
    assert d.guarantees_met and total <= 16.64 * 3 and cap.max_kwh > 0
    rig.runtime.close()


def test_a_killed_booker_loses_no_committed_booking(tmp_path):
    folder = tmp_path / "s"
    Rig(folder).runtime.close()
    cps = ["CA-303", "CA-308", "CA-508", "CA-310", "CA-506", "CA-316", "CA-148", "CA-149"]
    p = _spawn(folder, cps, 5.0)
    assert p.stdout.readline().strip() == "ready"
    p.stdin.write("go\n")
    p.stdin.flush()
    seen = []
    deadline = time.time() + 60
    while len(seen) < 3 and time.time() < deadline:
        line = p.stdout.readline()
        if line.startswith("booked"):
            seen.append(line.split()[1])
    os.kill(p.pid, signal.SIGKILL)  # mid-way through the next booking
    p.wait()
    j = Journal(folder)  # opens cleanly after the kill
    ids = [s.id for s in j.sessions()]
    assert set(seen) <= set(ids)  # every booking it reported is there
    assert len(ids) == len(set(ids))


def test_a_crash_between_booking_and_planning_is_planned_on_restart(tmp_path):
    rig = Rig(tmp_path / "s", plug_on_booking=False)
    s, _ = rig.kiosk.book("CA-303", NOW + timedelta(hours=3), 10.0, NOW)
    rig.chargers.plug("CA-303", __import__("engine.runtime.cars", fromlist=["Car"]).Car(s.id, 60, 20, 7.2), NOW)
    rig.journal.set_meta("sim_state", rig.chargers.state())
    # the process dies here: no tick ever planned it
    rig.journal.close()
    again = Rig(tmp_path / "s")
    assert "CA-303" in again.runtime.cars and "AB-PANEL" in again.runtime.dirty
    again.runtime.tick(NOW)
    assert again.runtime.applied["CA-303"].power_kw > 0
    again.run(3 * 60)
    assert again.journal.session(s.id).delivered_kwh >= s.guaranteed_kwh - 0.01


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x13not sqlite\x00" * 700)


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize("damage", [_garbage, _truncated], ids=["not-a-database", "truncated"])
def test_a_journal_sqlite_cannot_read_is_set_aside_and_the_site_runs_on(tmp_path, damage):
    """The live site used to raise on every page (the kiosk's too); now the bad file is kept, a new
    journal is started and the CPO is told."""
    folder = tmp_path / "s"
    rig = Rig(folder)
    rig.kiosk.book("CA-303", NOW + timedelta(hours=3), 10.0, NOW)
    rig.runtime.close()
    rig.journal.close()
    for companion in folder.glob("journal.sqlite-*"):  # checkpointed by the close
        companion.unlink()
    damage(folder / "journal.sqlite")
    bad_bytes = (folder / "journal.sqlite").read_bytes()
    with pytest.raises(JournalError, match="journal.sqlite: cannot"):
        Journal(folder)  # plain open (the replay's): an error naming the file, nothing moved
    assert (folder / "journal.sqlite").read_bytes() == bad_bytes

    rt = build_runtime(SiteStore(folder), None, environ={"EV_NOW": NOW.isoformat()})
    try:
        assert (folder / "journal.sqlite.bad-1").read_bytes() == bad_bytes  # kept as it was
        (problem,) = rt.journal.problems()
        assert "journal.sqlite could not be read" in problem and "journal.sqlite.bad-1" in problem
        s, _ = Kiosk(rt).book("CA-308", NOW + timedelta(hours=3), 10.0, NOW)
        assert rt.journal.session(s.id) is not None
    finally:
        rt.close()
        rt.journal.close()
    again = Journal.open_or_set_aside(folder)  # the new journal is used from now on
    assert [x.id for x in again.sessions()] == [s.id] and not (folder / "journal.sqlite.bad-2").exists()
    again.clear_problems()
    assert again.problems() == []
    again.close()


def test_a_journal_that_fails_otherwise_is_not_set_aside(tmp_path, monkeypatch):
    """Only a file SQLite cannot read is moved: any other failure (here an error in a statement, as
    a lock held too long would be) is raised naming the file, and the file stays."""
    folder = tmp_path / "s"
    Journal(folder).close()
    monkeypatch.setattr(journal_module, "_SCHEMA", "SELECT * FROM no_such_table;")
    with pytest.raises(JournalError, match="no such table") as err:
        Journal.open_or_set_aside(folder)
    assert isinstance(err.value.__cause__, sqlite3.OperationalError)
    assert not list(folder.glob("journal.sqlite.bad-*")) and (folder / "journal.sqlite").exists()


def test_old_jsonl_lines_not_carried_over_are_reported(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    line = ('{"id": "CA-303@1", "cp": "CA-303", "cabinet": "AB-PANEL", "arrival": "%s", "departure": "%s", '
            '"requested_kwh": 10.0, "guaranteed_kwh": 10.0}' % (NOW.isoformat(), (NOW + timedelta(hours=3)).isoformat()))
    (folder / "sessions.jsonl").write_text(line + "\n" + '{"id": "torn", "cp": "CA-3')
    j = Journal(folder)
    (problem,) = j.problems()
    assert problem.startswith("sessions.jsonl: 1 line(s) not carried over") and "unparseable: 1" in problem
    j.close()


KILLED_AFTER_BOOKING = textwrap.dedent("""
    import os, signal, sys
    from datetime import timedelta
    from tests.runtime.conftest import NOW, Rig

    rig = Rig(sys.argv[1], plug_on_booking=True)  # as the app books with simulated cars
    rig.runtime.tick(NOW)
    s, _ = rig.kiosk.book("CA-303", NOW + timedelta(hours=3), 10.0, NOW)
    print(s.id, s.guaranteed_kwh, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # dies before any tick plans the booking
""")


def test_a_process_killed_between_booking_and_planning_keeps_the_promise_after_restart(tmp_path):
    """The booking's simulated car lived only in the dead process: the restart used to end the
    session as gone, 0 kWh of a 10 kWh promise delivered."""
    folder = tmp_path / "s"
    p = subprocess.run([sys.executable, "-c", KILLED_AFTER_BOOKING, str(folder)], cwd=ROOT, capture_output=True,
                       text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert p.returncode == -signal.SIGKILL, p.stderr
    sid, guaranteed = p.stdout.split()
    again = Rig(folder, plug_on_booking=True)  # the restart
    assert "CA-303" in again.runtime.cars and "AB-PANEL" in again.runtime.dirty
    again.runtime.tick(NOW)
    assert again.runtime.applied["CA-303"].power_kw > 0
    again.run(3 * 60)
    s = again.journal.session(sid)
    assert s.end_reason != "gone" and s.delivered_kwh >= float(guaranteed) - 0.01
    again.runtime.close()
