"""The driver kiosk in a real browser: the kiosk URL offers no CPO page; ask, confirm, see progress."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.e2e.helpers import shot, wait_idle

pytestmark = pytest.mark.e2e


def test_kiosk_url_has_no_cpo_pages_and_books_a_session(app_url, page):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{app_url}/kiosk?cp=CA-148")
    wait_idle(page, timeout=180_000)
    page.get_by_role("heading", name="EV charging kiosk").wait_for(timeout=60_000)
    page.get_by_text("Charge point CA-148", exact=True).wait_for(timeout=30_000)
    # no navigation, no CPO sidebar, no link to the CPO pages
    assert page.locator("[data-testid=stSidebarNav]").count() == 0
    assert page.locator("[data-testid=stSidebarUserContent]").count() == 0
    assert page.get_by_text("Site map").count() == 0 and page.get_by_text("Replay").count() == 0
    assert page.locator("a[href*='site_map'], a[href*='replay']").count() == 0
    assert page.get_by_text("Page not found").count() == 0
    shot(page, "kiosk_form")

    energy = page.get_by_label("Energy [kWh]")
    energy.fill("8")
    energy.press("Tab")
    page.get_by_role("button", name="Can my need be met?").click()
    wait_idle(page)
    answer = page.locator("[data-testid=stAlert]").first
    answer.wait_for(timeout=60_000)
    text = answer.inner_text()
    assert "Guaranteed" in text and "8.0 kWh" in text, text
    shot(page, "kiosk_answer")

    page.get_by_role("button", name="Start charging", exact=True).click()
    wait_idle(page)
    page.get_by_text("Charging at CA-148").wait_for(timeout=60_000)
    page.locator("[data-testid=stPlotlyChart]").first.wait_for(timeout=30_000)
    delivered = page.locator("[data-testid=stMetric]").filter(has_text="Delivered").locator(
        "[data-testid=stMetricValue]")
    before = delivered.inner_text()
    # the metered view refreshes itself (a run_every fragment): at EV_CLOCK_SPEED=60 the metered
    # kWh rise within a minute, without a click
    page.wait_for_function(
        "t => { const m = [...document.querySelectorAll('[data-testid=stMetric]')]"
        ".find(x => x.innerText.startsWith('Delivered')); "
        "return m && m.querySelector('[data-testid=stMetricValue]').innerText !== t; }",
        arg=before, timeout=75_000)
    assert float(delivered.inner_text().split()[0]) > float(before.split()[0])
    page.wait_for_timeout(1500)
    shot(page, "kiosk_progress")
    assert page.get_by_text("Charging at CA-148").count() == 1
    outside = [u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
               and urlparse(u).hostname not in ("127.0.0.1", "localhost")]
    assert not outside, outside


def test_kiosk_without_cp_shows_a_picker_inside_the_cpo_app(app_url, page):
    page.goto(f"{app_url}/kiosk")
    wait_idle(page, timeout=180_000)
    page.get_by_role("heading", name="EV charging kiosk").wait_for(timeout=60_000)
    page.get_by_text("Pick the charge point").wait_for(timeout=30_000)
