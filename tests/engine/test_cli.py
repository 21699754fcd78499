"""The engine CLI: ``python -m engine plan|quote|replay`` (spec: stdout JSON, exit 0 / 2)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "data" / "examples" / "caltech_day.json"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def small(**extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "step_minutes": 60,
        "horizon_steps": 4,
        "cabinets": [{"id": "A", "threshold_kw": 7}],
        "charge_points": [{"id": "c1", "cabinet": "A", "rated_kw": 7}, {"id": "c2", "cabinet": "A", "rated_kw": 7}],
        "sessions": [{"id": "s1", "cp": "c1", "arrival_step": 0, "departure_step": 2, "energy_kwh": 7}],
    }
    d.update(extra)
    return d


def test_plan_example_prints_one_json_object() -> None:
    r = run("plan", str(EXAMPLE))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    out = json.loads(r.stdout)  # exactly one JSON object, nothing else on stdout
    assert out["status"] in ("optimal", "infeasible_guarantees")
    assert len(out["sessions"]) == 38 and len(out["sessions"][0]["power_kw"]) == 288
    assert out["totals"]["delivered_kwh"] <= out["totals"]["requested_kwh"] + 1e-6


def test_quote_example() -> None:
    r = run("quote", str(EXAMPLE))
    assert r.returncode == 0, r.stderr
    q = json.loads(r.stdout)
    assert set(q) >= {"feasible", "max_kwh", "earliest_departure_step", "solve_seconds"}


@pytest.mark.parametrize(
    "content,command,expected",
    [
        (None, "plan", "scenario: file not found"),
        ("{not json", "plan", "scenario: malformed JSON"),
        (json.dumps(small(sessions=[{"id": "s1", "cp": "c1", "arrival_step": 3, "departure_step": 3, "energy_kwh": 7}])),
         "plan", "sessions[0].departure_step: must be > arrival_step"),
        (json.dumps(small()), "quote", "request: required"),
        (json.dumps(small(request={"id": "r", "cp": "c1", "arrival_step": 1, "departure_step": 3, "energy_kwh": 5})),
         "quote", "request.cp: charge point 'c1' is busy"),
    ],
    ids=["missing-file", "malformed-json", "bad-field", "quote-without-request", "request-overlap"],
)
def test_invalid_input_exits_2_with_one_line(tmp_path: Path, content: str | None, command: str, expected: str) -> None:
    path = tmp_path / "scenario.json"
    if content is not None:
        path.write_text(content)
    r = run(command, str(path))
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(expected), lines[0]


def test_help_lists_the_commands() -> None:
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("plan", "quote", "replay"):
        assert cmd in r.stdout


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["plan"], ["frobnicate"]):
        with pytest.raises(SystemExit) as e:
            code = main(argv)
            raise SystemExit(code)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err


def test_in_process_plan_and_quote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(small(request={"id": "r", "cp": "c2", "arrival_step": 0, "departure_step": 4, "energy_kwh": 21})))
    assert main(["plan", str(path)]) == 0
    plan_out = json.loads(capsys.readouterr().out)
    assert plan_out["sessions"][0]["delivered_kwh"] == pytest.approx(7.0, abs=1e-6)
    assert main(["quote", str(path)]) == 0
    q = json.loads(capsys.readouterr().out)
    assert q["max_kwh"] == pytest.approx(21.0, abs=1e-6) and q["feasible"] is True
    assert q["earliest_departure_step"] == 3  # s1 is not guaranteed: best effort, ignored


def test_replay_is_dispatched(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    seen: list[list[str]] = []
    fake = types.ModuleType("engine.replay.cli")
    fake.main = lambda argv: seen.append(list(argv)) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "engine.replay.cli", fake)
    assert main(["replay", "--algorithm", "edf"]) == 0
    assert seen == [["--algorithm", "edf"]]


def test_replay_missing_module_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "engine.replay.cli", None)  # import fails
    assert main(["replay"]) == 2
    assert "replay" in capsys.readouterr().err
