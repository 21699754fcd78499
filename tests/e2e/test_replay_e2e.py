"""The analyst replay page in a real browser: a one-day replay of two strategies."""
from __future__ import annotations

import pytest

from tests.e2e.helpers import shot, sign_in, wait_idle

pytestmark = pytest.mark.e2e


def test_one_day_two_strategies_shows_kpis_and_charts(app_url, page):
    page.goto(f"{app_url}/replay")
    sign_in(page)
    page.get_by_role("heading", name="Replay: real sessions through the strategies").wait_for(timeout=60_000)
    # keep two strategies: LLF and MPC (the form starts with EDF, LLF, MPC, offline)
    page.get_by_role("button", name="Remove EDF").first.click()
    page.get_by_role("button", name="Remove Offline optimum").first.click()
    page.get_by_role("button", name="Run replay").click()
    page.get_by_text("39 sessions, 2019-05-06 + 1 day(s), threshold 30 kW").wait_for(timeout=120_000)
    wait_idle(page, timeout=120_000)

    # the KPI table (a canvas grid: its column headers are in the DOM) and the metrics
    table = page.locator("[data-testid=stDataFrame]").first
    table.wait_for(state="visible", timeout=30_000)
    table.locator("[role=columnheader]", has_text="Strategy").first.wait_for(state="attached", timeout=30_000)
    headers = [h.inner_text() for h in table.locator("[role=columnheader]").all()]
    for name in ("Strategy", "Sessions", "Energy delivered [%]", "Demands met [%]", "Peak [kW]"):
        assert name in headers, headers
    metrics = page.locator("[data-testid=stMetricLabel]").all_inner_texts()
    assert "LLF: energy delivered" in metrics and "MPC (engine): energy delivered" in metrics
    assert not any(m.startswith("EDF") or m.startswith("Offline") for m in metrics)
    values = page.locator("[data-testid=stMetricValue]").all_inner_texts()
    assert values[0].endswith("%") and float(values[0].rstrip(" %")) > 90
    page.locator("[data-testid=stMetric]").first.scroll_into_view_if_needed()
    shot(page, "replay_metrics")

    # the load chart is drawn by plotly in the browser
    chart = page.locator("[data-testid=stPlotlyChart]").first
    chart.scroll_into_view_if_needed()
    chart.locator(".main-svg").first.wait_for(timeout=30_000)
    assert chart.locator(".scatterlayer .trace").count() >= 2
    assert page.locator("[data-testid=stException]").count() == 0
    shot(page, "replay_kpis")
    chart.screenshot(path=str(shot(page, "replay_full").with_name("replay_load_chart.png")))
