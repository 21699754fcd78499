"""ACN loader: row validation, the LoadReport, window selection on the step grid."""
from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from engine.replay.acn import DATA_DIR, default_paths, read_sessions
from engine.replay.loader import load_window
from engine.replay.problem import ReplayError
from engine.replay.window import select_window

HEADER = ("arrival,departure,requested_energy (kWh),delivered_energy (kWh),station_id,session_id,"
          "estimated_departure,claimed\n")


def _csv(tmp_path: Path, rows: list[str], name: str = "s.csv", gz: bool = False) -> Path:
    text = HEADER + "".join(r + "\n" for r in rows)
    p = tmp_path / (name + (".gz" if gz else ""))
    if gz:
        p.write_bytes(gzip.compress(text.encode()))
    else:
        p.write_text(text)
    return p


GOOD = "2019-05-06 08:00:00-07:00,2019-05-06 12:00:00-07:00,10.0,8.0,CA-301,s1,2019-05-06 11:00:00-07:00,True"


def test_shipped_data_and_licence_present():
    assert (DATA_DIR / "LICENSE.CC-BY-4.0").exists()
    assert "Lee, T. Li, S. H. Low" in (DATA_DIR / "README.md").read_text()
    assert len(default_paths("caltech")) == 4 and len(default_paths("jpl")) == 4


def test_every_bad_row_is_skipped_and_counted(tmp_path):
    rows = [
        GOOD,
        "not a time,2019-05-06 12:00:00-07:00,10,8,CA-302,s2,2019-05-06 11:00:00-07:00,True",
        "2019-05-06 12:00:00-07:00,2019-05-06 08:00:00-07:00,10,8,CA-303,s3,2019-05-06 11:00:00-07:00,True",
        "2019-05-06 08:00:00-07:00,2019-05-06 12:00:00-07:00,-1,8,CA-304,s4,2019-05-06 11:00:00-07:00,True",
        "2019-05-06 08:00:00-07:00,2019-05-06 12:00:00-07:00,10,nan,CA-305,s5,2019-05-06 11:00:00-07:00,True",
        "2019-05-06 08:00:00-07:00,2019-05-06 12:00:00-07:00,10,8,11900388,s6,2019-05-06 11:00:00-07:00,True",
        GOOD.replace("CA-301", "CA-306"),  # duplicate session id s1
        "2019-05-06 08:00:00-07:00,2019-05-08 12:00:00-07:00,30,20,CA-307,s7,2019-05-06 17:00:00-07:00,False",
    ]
    sessions, rep = read_sessions([_csv(tmp_path, rows, gz=True)])
    assert rep.rows_read == 8 and rep.rows_valid == 2 == len(sessions)
    assert rep.skipped == {
        "unparseable": 1,
        "departure <= arrival": 1,
        "negative or NaN energy": 2,
        "unknown station format": 1,
        "duplicate session_id": 1,
    }
    long = [s for s in sessions if s.session_id == "s7"][0]
    assert long.clipped_24h and (long.departure - long.arrival).total_seconds() == 24 * 3600
    assert not long.claimed


def test_missing_file_and_column_name_the_option(tmp_path):
    with pytest.raises(ReplayError, match="^--sessions: no such file"):
        read_sessions([tmp_path / "nope.csv"])
    p = tmp_path / "bad.csv"
    p.write_text("arrival,departure\n")
    with pytest.raises(ReplayError, match="^--sessions: .*missing column"):
        read_sessions([p])


def test_window_steps_rounding_and_demand(tmp_path):
    """Arrival and departure rounded down as acnportal; a car staying past the window's end keeps
    its whole stay (the horizon grows); one plugged in before the window is kept from step 0."""
    rows = [
        # arrives 08:02 -> step floor(96.4)=96; leaves 12:03 -> floor(144.6)=144
        "2019-05-06 08:02:00-07:00,2019-05-06 12:03:00-07:00,10.0,8.0,CA-301,a,2019-05-06 11:00:00-07:00,True",
        # spans midnight: kept whole, the horizon extended to its departure (06:00 = step 360)
        "2019-05-06 22:00:00-07:00,2019-05-07 06:00:00-07:00,12.0,9.0,CA-302,b,2019-05-07 07:00:00-07:00,True",
        # shorter than one step after rounding (09:01 and 09:04 both fall in the 09:00 step)
        "2019-05-06 09:01:00-07:00,2019-05-06 09:04:00-07:00,1.0,0.1,CA-303,c,2019-05-06 09:04:00-07:00,True",
        # outside the window
        "2019-05-07 09:00:00-07:00,2019-05-07 10:00:00-07:00,1.0,0.1,CA-304,d,2019-05-07 10:00:00-07:00,True",
        # needs more than 6.6 kW x 1 h: demand lowered to the rate; its driver gave no input
        "2019-05-06 10:00:00-07:00,2019-05-06 11:00:00-07:00,15.0,15.0,CA-305,e,2019-05-06 11:00:00-07:00,False",
        # plugged in the evening before, still there at midnight: half its stay is in the window
        "2019-05-05 20:00:00-07:00,2019-05-06 04:00:00-07:00,10.0,8.0,CA-306,f,2019-05-06 04:00:00-07:00,True",
    ]
    sessions, rep = read_sessions([_csv(tmp_path, rows)])
    w = select_window(sessions, rep, date(2019, 5, 6), 1, 5, 6.6, "delivered")
    assert w.window_steps == 288 and w.horizon_steps == 360
    assert w.session_ids == ["f", "a", "e", "b"]
    assert list(w.arrival_step) == [0, 96, 120, 264]
    assert list(w.departure_step) == [48, 144, 132, 360]
    assert list(w.estimated_step) == [48, 132, 132, 360]  # b's estimate beyond the horizon: clipped
    assert w.demand_kwh == pytest.approx([4.0, 8.0, 6.6, 9.0])
    assert w.need_kwh == pytest.approx([4.0, 8.0, 15.0, 9.0])  # before capping to the rate
    assert w.report.skipped == {"shorter than one step": 1}
    assert w.report.clipped == {"started_before_window": 1, "stays_past_window_end": 1, "demand_clipped_to_rate": 1}
    assert w.report.in_window == 5 and w.report.no_driver_input == 1
    assert w.report.to_dict()["no_driver_input"] == 1
    req = select_window(sessions, rep, date(2019, 5, 6), 1, 5, 6.6, "requested", force_feasible=False)
    assert req.demand_kwh == pytest.approx([5.0, 10.0, 15.0, 12.0])
    two = select_window(sessions, rep, date(2019, 5, 6), 2, 15, 6.6, "delivered")
    assert two.horizon_steps == 192 and "d" in two.session_ids
    assert two.departure_step[two.session_ids.index("b")] == 4 * 30  # real departure kept


def test_out_of_range_start_names_the_option():
    with pytest.raises(ReplayError, match="^--start"):
        load_window(None, "9999-12-31")


def test_dst_days_have_their_real_length():
    w = load_window(None, "2019-11-03")
    assert w.window_steps == 300  # 25 h
    assert w.step_times()[w.window_steps - 1].utcoffset().total_seconds() == -8 * 3600
    w = load_window(None, "2020-03-08")
    assert w.window_steps == w.horizon_steps == 276  # 23 h


def test_real_day_loads_and_bad_options():
    w = load_window(None, "2019-05-06")
    assert w.n == 39 and w.report.skipped.get("unknown station format", 0) > 0  # 38 + one from the night before
    assert np.all(w.departure_step > w.arrival_step) and np.all(w.demand_kwh >= 0)
    with pytest.raises(ReplayError, match="^--start"):
        load_window(None, "2019-02-30")
    with pytest.raises(ReplayError, match="^--days"):
        load_window(None, "2019-05-06", days=0)
    with pytest.raises(ReplayError, match="^--step-minutes"):
        load_window(None, "2019-05-06", step_minutes=7)
    with pytest.raises(ReplayError, match="^--demand"):
        load_window(None, "2019-05-06", demand="wished")
    with pytest.raises(ReplayError, match="^--site"):
        default_paths("mars")


def test_kiosk_journal_replays_like_acn_sessions(tmp_path):
    from datetime import datetime

    from engine.replay.acn import ACN_TZ
    from engine.replay.simulate import ReplayConfig, run_replay
    from engine.replay.site_journal import read_journal
    from engine.runtime.journal import SessionRecord

    def booked(i, a, d, kwh):
        return SessionRecord(id=f"k{i}", cp=f"CA-30{i}", cabinet="POD-A",
                             arrival=datetime(2026, 11, 25, a, 0, tzinfo=ACN_TZ),
                             departure=datetime(2026, 11, 25, d, 0, tzinfo=ACN_TZ),
                             requested_kwh=kwh, guaranteed_kwh=kwh)

    lines = [json_line(booked(1, 8, 12, 20.0)), json_line(booked(2, 9, 17, 30.0)),
             json_line(booked(3, 10, 9, 5.0)), json_line(booked(1, 8, 12, 20.0)), '{"id": "torn", "cp": "CA-']
    j = tmp_path / "sessions.jsonl"
    j.write_text("\n".join(lines))
    sessions, rep = read_journal(j)
    assert [s.session_id for s in sessions] == ["k1", "k2"]
    assert rep.skipped == {"departure <= arrival": 1, "duplicate session_id": 1, "unparseable": 1}
    w = load_window(None, "2026-11-25", journal=j)
    assert w.n == 2 and list(w.arrival_step) == [96, 108] and list(w.departure_step) == [144, 204]
    assert w.report.no_driver_input == 0
    assert w.demand_kwh.tolist() == [20.0, 30.0]
    k = run_replay(w, "mpc", ReplayConfig(threshold_kw=7.0)).kpis
    assert k["sessions"] == 2 and k["peak_kw"] <= 7.0 + 1e-6 and k["delivered_kwh"] == 50.0
    with pytest.raises(ReplayError, match="^--journal"):
        read_journal(tmp_path / "none.jsonl")


def test_live_sqlite_journal_replays_with_real_departures_and_metered_energy(tmp_path):
    from datetime import datetime

    from engine.replay.acn import ACN_TZ
    from engine.replay.site_journal import read_journal
    from engine.runtime.journal import Journal, SessionRecord

    j = Journal(tmp_path)
    t = lambda h: datetime(2026, 11, 25, h, 0, tzinfo=ACN_TZ)  # noqa: E731
    j.add_session(SessionRecord("a", "CA-301", "AB", t(8), t(12), 20.0, 18.0))
    j.add_session(SessionRecord("b", "CA-302", "AB", t(9), t(17), 30.0, 30.0))
    j.end_session("a", t(13), 19.5, "left")  # stayed an hour longer than stated, metered 19.5 kWh
    j.close()
    for path in (tmp_path, tmp_path / "journal.sqlite"):
        sessions, rep = read_journal(path)
        a, b = sessions
        assert (a.session_id, a.departure, a.estimated_departure, a.delivered_kwh) == ("a", t(13), t(12), 19.5)
        assert (b.departure, b.delivered_kwh) == (t(17), 30.0)  # still open: its stated departure and need
        assert rep.rows_valid == 2
    w = load_window(None, "2026-11-25", journal=tmp_path / "journal.sqlite")
    assert w.n == 2
    with pytest.raises(ReplayError, match="^--journal"):
        read_journal(tmp_path / "other.sqlite")


def json_line(b) -> str:
    import json

    d = b.to_row()
    return json.dumps({k: d[k] for k in ("id", "cp", "cabinet", "arrival", "departure", "requested_kwh",
                                         "guaranteed_kwh")})
