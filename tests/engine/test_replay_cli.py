"""`python -m engine replay`: one JSON object on stdout, exit 2 naming a bad option."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.replay.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPEC_KEYS = ["algorithm", "sessions", "requested_kwh", "deliverable_kwh", "delivered_kwh", "energy_delivered_pct",
             "demands_met_pct", "promises", "promised_kwh", "promises_kept", "peak_kw", "overload_kwh",
             "energy_cost", "solve_ms_median", "wall_seconds"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", "replay", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_cli_prints_one_kpi_object():
    r = _cli("--start", "2019-05-06", "--threshold-kw", "30", "--algorithm", "mpc")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)  # exactly one JSON document
    assert r.stdout.count("\n") == 1
    assert list(out) == SPEC_KEYS
    assert out["algorithm"] == "mpc" and out["sessions"] == 39 and out["overload_kwh"] == 0.0
    assert out["promises_kept"] == out["promises"] > 0
    assert "mpc 100%" in r.stderr  # progress goes to stderr


@pytest.mark.parametrize(
    "args, option",
    [
        (["--days", "x"], "--days"),
        (["--days", "0"], "--days"),
        (["--step-minutes", "7"], "--step-minutes"),
        (["--threshold-kw", "-5"], "--threshold-kw"),
        (["--threshold-kw", "nan"], "--threshold-kw"),
        (["--rated-kw", "0"], "--rated-kw"),
        (["--departure", "soon"], "--departure"),
        (["--algorithm", "fifo"], "--algorithm"),
        (["--start", "2019-02-30"], "--start"),
        (["--sessions", "/no/such.csv"], "--sessions"),
        (["--tariff", "free"], "--tariff"),
        (["--demand", "wish"], "--demand"),
        (["--quote-order", "random"], "--quote-order"),
        (["--promise-policy", "greedy"], "--promise-policy"),
        (["--start", "9999-12-31"], "--start"),
        (["--start", "2019-05-06", "--days", "100000000"], "--days"),
        (["--start", "2019-01-06"], "--start"),  # before the data: a window with no session
    ],
)
def test_bad_option_exits_2_naming_it(args, option, capsys):
    assert main(args + ["--quiet"]) == 2
    err = capsys.readouterr()
    assert err.out == ""
    lines = err.err.strip().splitlines()
    assert len(lines) == 1 and option in lines[0], err.err


def test_bad_option_via_module_entry_point():
    r = _cli("--bogus")
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "--bogus" in r.stderr


def test_all_algorithms_detail_and_sessions_file(tmp_path, capsys):
    src = ROOT / "data" / "acn" / "jpl" / "2019-05-01 2019-08-31.csv.gz"
    detail = tmp_path / "detail.json"
    rc = main(["--sessions", str(src), "--start", "2019-05-06", "--step-minutes", "15", "--threshold-kw", "60",
               "--algorithm", "all", "--tariff", "none", "--detail", str(detail), "--quiet"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    names = [k["algorithm"] for k in out["results"]]
    assert names == ["uncontrolled", "round_robin", "edf", "llf", "mpc", "offline", "offline_met"]
    assert all(k["energy_cost"] == 0.0 for k in out["results"])
    met = {k["algorithm"]: k["demands_met_pct"] for k in out["results"]}
    assert all(met["offline_met"] >= v for a, v in met.items() if a != "uncontrolled")
    d = json.loads(detail.read_text())
    assert len(d["results"]) == 7 and d["results"][0]["sessions"][0]["station_id"].startswith("AG-")
    assert len(d["results"][0]["load"]) == 98  # 96 steps of the day + 2 for a car staying past midnight
    assert d["report"]["no_driver_input"] >= 0


def test_journal_option(tmp_path, capsys):
    j = tmp_path / "sessions.jsonl"
    j.write_text(json.dumps({"id": "k1", "cp": "CA-301", "cabinet": "POD-A", "arrival": "2026-11-25T08:00:00-08:00",
                             "departure": "2026-11-25T10:00:00-08:00", "requested_kwh": 10.0,
                             "guaranteed_kwh": 10.0}) + "\n")
    assert main(["--journal", str(j), "--start", "2026-11-25", "--algorithm", "edf", "--threshold-kw", "3.3",
                 "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sessions"] == 1 and out["delivered_kwh"] == 6.6 and out["demands_met_pct"] == 0.0
    assert main(["--journal", str(tmp_path / "missing.jsonl"), "--quiet"]) == 2
    assert "--journal" in capsys.readouterr().err


def test_quote_order_option_reaches_mpc(capsys):
    """2019-05-07 at 20 kW, fcfs promises: quoting same-step arrivals in data order meets one demand fewer."""
    met = {}
    for order in ("need", "arrival"):
        assert main(["--start", "2019-05-07", "--threshold-kw", "20", "--algorithm", "mpc", "--tariff", "none",
                     "--quote-order", order, "--promise-policy", "fcfs", "--quiet"]) == 0
        out = json.loads(capsys.readouterr().out)
        met[order] = out["demands_met_pct"]
        assert out["delivered_kwh"] == pytest.approx(304.498, abs=0.01)
    assert met == {"need": 66.67, "arrival": 64.58}


def test_promise_policy_option_reaches_mpc(capsys):
    """Same day: the default admission policy meets many more demands than fcfs, same energy."""
    assert main(["--start", "2019-05-07", "--threshold-kw", "20", "--algorithm", "mpc", "--tariff", "none",
                 "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["demands_met_pct"] >= 66.67 + 10
    assert out["delivered_kwh"] == pytest.approx(304.498, abs=0.5)
    assert out["promises_kept"] == out["promises"] > 0


def test_bad_detail_path_fails_before_the_run(tmp_path, capsys):
    """A --detail path that cannot be written exits 2 naming it, before any strategy runs."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for bad in (str(blocker / "detail.json"), str(tmp_path)):
        assert main(["--start", "2019-05-06", "--algorithm", "mpc", "--detail", bad]) == 2
        err = capsys.readouterr()
        assert err.out == ""
        last = err.err.strip().splitlines()[-1]
        assert "--detail" in last and "mpc" not in err.err  # no progress: nothing ran


def test_empty_window_is_an_error(tmp_path, capsys):
    src = ROOT / "data" / "acn" / "jpl" / "2019-05-01 2019-08-31.csv.gz"
    assert main(["--sessions", str(src), "--start", "2019-12-25", "--quiet"]) == 2
    err = capsys.readouterr()
    assert err.out == "" and "--start" in err.err and "no session" in err.err


def test_journal_without_start_covers_its_own_days(tmp_path, capsys):
    j = tmp_path / "sessions.jsonl"
    rows = [("k1", "2026-11-25T08:00:00-08:00", "2026-11-25T10:00:00-08:00"),
            ("k2", "2026-11-26T09:00:00-08:00", "2026-11-26T12:00:00-08:00")]
    j.write_text("".join(json.dumps({"id": i, "cp": "CA-301", "arrival": a, "departure": d,
                                     "requested_kwh": 5.0}) + "\n" for i, a, d in rows))
    assert main(["--journal", str(j), "--algorithm", "edf", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sessions"] == 2 and out["demands_met_pct"] == 100.0
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["--journal", str(empty), "--quiet"]) == 2
    assert "--journal" in capsys.readouterr().err
    # a journal window with no session (an explicit day it does not cover) is an error too
    assert main(["--journal", str(j), "--start", "2026-12-25", "--quiet"]) == 2
    assert "--journal" in capsys.readouterr().err


def test_quote_order_config_is_validated():
    from engine.replay.problem import ReplayError
    from engine.replay.simulate import ReplayConfig

    with pytest.raises(ReplayError, match="--quote-order"):
        ReplayConfig(quote_order="fifo").validate()


@pytest.mark.parametrize(
    "option, value",
    [("--sessions", "n" * 300 + ".csv"), ("--journal", "n" * 300), ("--journal", "n" * 300 + "/journal.sqlite"),
     ("--detail", "n" * 300), ("--detail", "n" * 300 + "/detail.json"), ("--tariff", "n" * 300 + ".json"),
     ("--tariff", "n" * 300), ("--tariff", "{folder}/folder.json"), ("--tariff", "{folder}/deep.json")],
    ids=["sessions-long-name", "journal-long-name", "journal-long-folder", "detail-long-name", "detail-long-folder",
         "tariff-long-file", "tariff-long-name", "tariff-folder", "tariff-deep-json"],
)
def test_unusable_paths_exit_2_naming_the_option(tmp_path, capsys, option, value):
    """A name too long for the system, a folder or a nested bomb as a file: exit 2, never a traceback."""
    (tmp_path / "folder.json").mkdir()
    (tmp_path / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    value = value.format(folder=tmp_path)
    assert main(["--start", "2019-05-06", "--algorithm", "edf", option, value, "--quiet"]) == 2
    err = capsys.readouterr()
    assert err.out == ""
    lines = err.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"replay: {option}:"), err.err
