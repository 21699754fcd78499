"""Helpers for the e2e tests: `from tests.e2e.helpers import wait_idle, shot, sign_in`."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "screenshots"


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until the streamlit script has finished running."""
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout)


def shot(page, name: str) -> Path:
    """Save a full-page screenshot under screenshots/ (git-ignored) and return its path."""
    SHOTS.mkdir(exist_ok=True)
    p = SHOTS / f"{name}.png"
    page.screenshot(path=str(p), full_page=True)
    return p


def sign_in(page, password: str | None = None, timeout: float = 180_000) -> None:
    """Sign in on the CPO sign-in form the page shows (a CPO page opened in a new browser session)."""
    from tests.e2e.conftest import CPO_PASSWORD

    wait_idle(page, timeout=timeout)
    page.get_by_role("heading", name="CPO sign-in").wait_for(timeout=timeout)
    box = page.get_by_label("CPO password")
    box.fill(CPO_PASSWORD if password is None else password)
    box.press("Tab")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="CPO sign-in").wait_for(state="detached", timeout=60_000)
    wait_idle(page, timeout=timeout)


def start_charging(page, app_url: str, cp: str, kwh: float) -> None:
    """A driver opens ``cp``'s kiosk, asks for ``kwh`` by the default departure and presses
    Start charging; returns once the page shows the session charging."""
    page.goto(f"{app_url}/kiosk?cp={cp}")
    wait_idle(page, timeout=180_000)
    energy = page.get_by_label("Energy [kWh]")
    energy.fill(f"{kwh:g}")
    energy.press("Tab")
    page.get_by_role("button", name="Can my need be met?").click()
    wait_idle(page)
    page.get_by_role("button", name="Start charging", exact=True).click()
    wait_idle(page)
    page.get_by_text(f"Charging at {cp}").wait_for(timeout=60_000)
