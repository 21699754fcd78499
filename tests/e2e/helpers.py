"""Helpers for the e2e tests: `from tests.e2e.helpers import wait_idle, shot`."""
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
