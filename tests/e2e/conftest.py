"""End-to-end fixtures: a real `streamlit run app.py` server and Debian's chromium.

The server runs on a free loopback port with its own state folder, on the embedded chain, with
``EV_CPO_PASSWORD`` set (CPO pages need ``helpers.sign_in``).
Pages are driven with Playwright's sync API in /usr/bin/chromium (never a downloaded browser).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "screenshots"
CPO_PASSWORD = "e2e-cpo-password"  # the server's EV_CPO_PASSWORD (helpers.sign_in types it)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """Base URL of a streamlit server running app.py (started once per test session)."""
    state = tmp_path_factory.mktemp("state")
    env = dict(os.environ, EV_STATE_DIR=str(state), CHAIN_RPC_URL="", PYTHONUNBUFFERED="1", EV_CLOCK_SPEED="60",
               EV_CPO_PASSWORD=CPO_PASSWORD)
    yield from _serve(state, env)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright: launch Debian's chromium, headless, with no background networking."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--use-gl=swiftshader", "--enable-unsafe-swiftshader"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}


def _serve(state: Path, env: dict[str, str]):
    """Start ``streamlit run app.py`` on a free port; yield its URL; stop it."""
    port = _free_port()
    log = open(state / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py",
         "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("streamlit did not start:\n" + (state / "streamlit.log").read_text()[-3000:])
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def fresh_app_url(tmp_path):
    """A server of its own whose root page no browser has opened yet, without a chain."""
    state = tmp_path / "state"
    state.mkdir()
    env = dict(os.environ, EV_STATE_DIR=str(state), CHAIN_RPC_URL="", PYTHONUNBUFFERED="1", EV_CHAIN="off",
               EV_CPO_PASSWORD=CPO_PASSWORD)
    yield from _serve(state, env)
