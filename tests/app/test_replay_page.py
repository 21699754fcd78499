"""AppTest of pages/replay.py: widgets, a run, the KPI table, charts, sweep, exports."""
from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.app.conftest import sign_in

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "replay.py")


def _app() -> AppTest:
    at = sign_in(AppTest.from_file(PAGE, default_timeout=60))
    at.run()
    assert not at.exception, at.exception
    return at


def test_form_widgets_before_a_run():
    at = _app()
    assert at.selectbox(key="replay_site").value == "caltech"
    assert str(at.date_input(key="replay_start").value) == "2019-05-06"
    assert at.slider(key="replay_threshold").value == 30.0
    assert at.multiselect(key="replay_algos").value == ["edf", "llf", "mpc", "offline"]
    assert any("Run replay" in i.value for i in at.info)
    assert len(at.dataframe) == 0


def test_run_shows_kpis_charts_and_exports():
    at = _app()
    at.multiselect(key="replay_algos").set_value(["uncontrolled", "llf", "mpc"])
    at.slider(key="replay_threshold").set_value(25.0)
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, at.exception
    table = at.dataframe[0].value  # the KPI table comes first
    assert list(table["Strategy"]) == ["Uncontrolled", "LLF", "MPC (engine)"]
    assert list(table["Sessions"]) == [39, 39, 39]  # 38 arriving that day + 1 plugged in the night before
    assert table["Overload [kWh]"].iloc[0] > 0 and (table["Overload [kWh]"].iloc[1:] == 0).all()
    assert (table["Peak [kW]"].iloc[1:] <= 25.0 + 1e-6).all()
    labels = [m.label for m in at.metric]
    assert "MPC (engine): energy delivered" in labels
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    titles = [c["layout"]["title"]["text"] for c in charts]
    assert "Site load vs the threshold" in titles
    assert "Requested vs delivered energy per session" in titles
    assert "Charging power per car at this step" in titles
    load = charts[titles.index("Site load vs the threshold")]
    assert [d["name"] for d in load["data"]] == ["Uncontrolled", "LLF", "MPC (engine)"]
    assert len(at.get("download_button")) == 3
    # scrubbing to another time keeps the page alive and redraws the bars
    slider = at.select_slider(key="replay_scrub")
    slider.set_value(12 * 12).run()  # 12:00
    assert not at.exception
    assert any("12:00" in c.value for c in at.caption)


def test_threshold_sweep_runs_behind_its_button():
    at = _app()
    at.multiselect(key="replay_algos").set_value(["edf", "llf"])
    at.selectbox(key="replay_step").set_value(15)
    at.button[0].click().run()
    assert not at.exception, at.exception
    at.slider(key="replay_sweep_range").set_value((20, 40))
    at.number_input(key="replay_sweep_points").set_value(3)
    at.button(key="replay_sweep_button").click().run()
    assert not at.exception, at.exception
    sweep = [d.value for d in at.dataframe if "Threshold [kW]" in d.value.columns][0]
    assert sorted(set(sweep["Threshold [kW]"])) == [20.0, 30.0, 40.0]
    assert sorted(set(sweep["Strategy"])) == ["EDF", "LLF"] and len(sweep) == 6
    # more room never delivers less, for each heuristic
    for _, g in sweep.groupby("Strategy"):
        vals = list(g.sort_values("Threshold [kW]")["Energy delivered [%]"])
        assert vals == sorted(vals)
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert "Energy delivered [%] vs threshold" in titles and "Demands met [%] vs threshold" in titles


def test_empty_strategy_choice_is_an_error_naming_the_field():
    at = _app()
    at.multiselect(key="replay_algos").set_value([])
    at.button[0].click().run()
    assert any("Strategies" in e.value for e in at.error)
