"""The CPO cockpit in a real browser: gated by sign-in, even from a kiosk browser; signed in, it
shows the power of a charge point a driver just started at the kiosk."""
from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from tests.e2e.helpers import shot, sign_in, start_charging, wait_idle

pytestmark = pytest.mark.e2e


def _no_site_data(page) -> None:
    body = page.locator("[data-testid=stApp]").inner_text()
    for leak in ("Caltech", "CC-POD", "AB-PANEL", "CA-303", " kW"):
        assert leak not in body, (leak, body)
    assert page.locator("[data-testid=stDataFrame]").count() == 0
    assert page.locator("[data-testid=stPlotlyChart]").count() == 0
    assert page.locator("[data-testid=stSidebarUserContent]").count() == 0


def test_a_kiosk_browser_cannot_open_the_cockpit_without_signing_in(app_url, page):
    page.goto(f"{app_url}/kiosk?cp=CA-303")
    wait_idle(page, timeout=180_000)
    page.get_by_role("heading", name="EV charging kiosk").wait_for(timeout=60_000)
    # a kiosk URL never reaches the cockpit, not even its sign-in form
    page.goto(f"{app_url}/cockpit?cp=CA-303")
    wait_idle(page, timeout=60_000)
    page.wait_for_timeout(1000)
    assert page.get_by_role("heading", name="Cockpit").count() == 0
    assert page.get_by_role("heading", name="CPO sign-in").count() == 0
    assert page.get_by_label("CPO password").count() == 0
    assert page.locator("[data-testid=stDataFrame]").count() == 0
    # the same browser at /cockpit: the sign-in form only
    page.goto(f"{app_url}/cockpit")
    wait_idle(page, timeout=60_000)
    page.get_by_role("heading", name="CPO sign-in").wait_for(timeout=60_000)
    _no_site_data(page)
    shot(page, "cockpit_sign_in")
    box = page.get_by_label("CPO password")
    box.fill("not-the-password")
    box.press("Tab")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Wrong password.").wait_for(timeout=30_000)
    _no_site_data(page)
    # no developer chrome (toolbarMode = "viewer"): no Deploy button
    assert page.get_by_role("button", name="Deploy").count() == 0


def test_signed_in_the_cockpit_shows_a_kiosk_sessions_power(app_url, page):
    # a driver starts charging at CA-303's kiosk
    start_charging(page, app_url, "CA-303", 10)

    # the CPO opens the cockpit and signs in
    page.goto(f"{app_url}/cockpit")
    sign_in(page)
    page.get_by_role("heading", name="Cockpit", exact=True).wait_for(timeout=60_000)
    page.get_by_role("heading", name=re.compile("^AB-PANEL")).wait_for(timeout=60_000)
    bar = page.locator("[data-testid=stProgress]").filter(has_text="CA-303")
    bar.first.wait_for(timeout=60_000)
    # "CA-303 6.7 of 6.656 kW - on track": power now against its rating
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stProgress]')].some(e => "
        "/CA-303 ([0-9.]+) of 6.656 kW/.test(e.innerText) && "
        "parseFloat(e.innerText.match(/CA-303 ([0-9.]+) of/)[1]) > 0)", timeout=60_000)
    text = bar.first.inner_text()
    power = float(re.search(r"CA-303 ([0-9.]+) of 6.656 kW", text).group(1))
    assert 0 < power <= 6.656 + 0.05, text
    page.locator("[data-testid=stPlotlyChart]").nth(13).wait_for(timeout=60_000)  # stack + gauge per cabinet
    assert page.locator("[data-testid=stException]").count() == 0
    page.wait_for_timeout(2500)  # let plotly draw
    shot(page, "cockpit")
    ab = page.get_by_role("heading", name=re.compile("^AB-PANEL"))
    ab.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(shot(page, "cockpit_full").with_name("cockpit_ab_panel.png")))
    # it refreshes itself: the site clock in its caption moves without a click
    cap = page.locator("[data-testid=stCaptionContainer]").filter(has_text="Updates every")
    before = cap.first.inner_text()
    page.wait_for_function(
        "t => { const e = [...document.querySelectorAll('[data-testid=stCaptionContainer]')]"
        ".find(x => x.innerText.startsWith('Updates every')); return e && e.innerText !== t; }",
        arg=before, timeout=30_000)


@pytest.mark.parametrize("path", ["/replay", "/site_map", "/cockpit", "/ui"])
def test_a_fresh_server_serves_no_cpo_page_without_sign_in(fresh_app_url, page, path):
    """Until app.py first runs, streamlit serves pages/<name>.py itself: each CPO page gates itself."""
    page.goto(fresh_app_url + path)
    wait_idle(page, timeout=180_000)
    page.wait_for_timeout(1000)
    assert page.get_by_role("heading", name="Replay: real sessions through the strategies").count() == 0
    assert page.get_by_role("heading", name="Site map").count() == 0
    assert page.get_by_role("heading", name="Cockpit").count() == 0
    _no_site_data(page)
    if path == "/ui":  # a helper module, not a page: nothing to show
        return
    page.get_by_role("heading", name="CPO sign-in").wait_for(timeout=30_000)
    if path == "/cockpit":
        # the request went through app.py: signed in, its CPO sidebar and navigation are there
        sign_in(page)
        page.get_by_role("heading", name="Cockpit", exact=True).wait_for(timeout=60_000)
        side = page.locator("[data-testid=stSidebarUserContent]")
        side.get_by_text("Caltech ACN garage, Pasadena").wait_for(timeout=30_000)
        side.get_by_role("button", name="Sign out").wait_for(timeout=30_000)  # the sidebar may still be drawing
        assert side.get_by_role("button", name="Sign out").count() == 1


@pytest.mark.parametrize("path", ["/", "/map", "/site_map", "/cockpit", "/replay"])
def test_a_fresh_server_opens_each_cpo_address_first_without_page_not_found(fresh_app_url, page, path):
    """The README's CPO addresses (and the site map's former ``/site_map``), each the very first
    request of a fresh server: the sign-in form, never streamlit's "Page not found" dialog. Until
    app.py first runs, streamlit routes a request by the file names of ``pages/`` (docs/cockpit.md):
    ``/map`` showed the dialog while the site map's file was ``pages/site_map.py``."""
    page.goto(fresh_app_url + path)
    wait_idle(page, timeout=180_000)
    page.get_by_role("heading", name="CPO sign-in").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)  # a dialog sent before the sign-in form would be drawn by now
    assert page.get_by_text("Page not found").count() == 0
    assert urlparse(page.url).path == path
    _no_site_data(page)
