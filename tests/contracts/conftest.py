"""Fixtures for the contract tests: titanoboa deployments and a registered sample group."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import boa
import pytest
from eth_utils import keccak

from bench.gas_report import two_cabinet_site

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_SRC = ROOT / "contracts" / "asset_registry.vy"
BOARD_SRC = ROOT / "contracts" / "status_board.vy"

CP, PV, BATTERY, LOAD = 1, 2, 3, 4
LAT, LON = 34_137_000, -118_125_000


def key(human_id: str) -> bytes:
    """On-chain id of a human id."""
    return keccak(text=human_id)


@dataclass(frozen=True)
class Deployed:
    """A registry + board pair with a cabinet C1 and four assets (one per kind)."""

    registry: object
    board: object
    admin: str
    operator: str
    stranger: str


@pytest.fixture(scope="session")
def registry_deployer():
    return boa.load_partial(str(REGISTRY_SRC))


@pytest.fixture(scope="session")
def board_deployer():
    return boa.load_partial(str(BOARD_SRC))


@pytest.fixture
def deployed(registry_deployer, board_deployer):
    """Fresh contracts (rolled back after the test) with cabinet C1 and assets.

    CP-1 charge point 7,400 W at 250 milli/kWh; PV-1 10,000 W; BAT-1 battery 20,000 W /
    50,000 Wh; LOAD-1 3,000 W; all operated by ``operator``.
    """
    with boa.env.anchor():
        admin = boa.env.eoa
        operator = boa.env.generate_address("operator")
        stranger = boa.env.generate_address("stranger")
        registry = registry_deployer.deploy()
        board = board_deployer.deploy(registry.address)
        registry.register_cabinet(key("C1"), "C1", 20_000, LAT, LON)
        registry.register_asset(key("CP-1"), "CP-1", CP, key("C1"), operator, LAT, LON, 7_400, 0, 250)
        registry.register_asset(key("PV-1"), "PV-1", PV, key("C1"), operator, LAT, LON, 10_000, 0, 0)
        registry.register_asset(key("BAT-1"), "BAT-1", BATTERY, key("C1"), operator, LAT, LON, 20_000, 50_000, 0)
        registry.register_asset(key("LOAD-1"), "LOAD-1", LOAD, key("C1"), operator, LAT, LON, 3_000, 0, 0)
        yield Deployed(registry, board, admin, operator, stranger)


# ------------------------------------------------------------------ ledger fixtures
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

ANVIL_BIN = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
#: anvil's second default account (public test key), used as a separate operator.
ANVIL_KEY_1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AnvilNode:
    """An anvil process on 127.0.0.1 with its state in ``state_file``."""

    def __init__(self, state_file: Path, port: int | None = None) -> None:
        if not ANVIL_BIN.is_file():
            pytest.fail(
                f"anvil binary missing at {ANVIL_BIN}: run `npm install` in {ROOT} "
                "(package.json pins @foundry-rs/anvil)",
                pytrace=False,
            )
        self.state_file = state_file
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "AnvilNode":
        self.proc = subprocess.Popen(
            [str(ANVIL_BIN), "--host", "127.0.0.1", "--port", str(self.port), "--state", str(self.state_file),
             "--state-interval", "1", "--silent"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                pytest.fail(f"anvil exited with {self.proc.returncode}: {err}", pytrace=False)
            try:
                req = urllib.request.Request(
                    self.url, data=b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
                    headers={"Content-Type": "application/json"},
                )
                urllib.request.urlopen(req, timeout=1).read()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"anvil did not answer on {self.url} within 30 s", pytrace=False)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture(scope="session")
def anvil_node(tmp_path_factory):
    """One anvil node for the session (terminated at the end)."""
    node = AnvilNode(tmp_path_factory.mktemp("anvil") / "state.json").start()
    yield node
    node.stop()


@pytest.fixture(params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def chain_mode(request):
    return request.param


@pytest.fixture
def ledger(request, chain_mode, tmp_path, monkeypatch):
    """A Ledger with freshly deployed contracts on the embedded chain or on anvil."""
    from contracts.ledger import Ledger

    monkeypatch.delenv("CHAIN_PRIVATE_KEY", raising=False)
    if chain_mode == "embedded":
        return Ledger.connect("", state_dir=tmp_path)
    node = request.getfixturevalue("anvil_node")
    return Ledger.connect(node.url, state_dir=tmp_path)  # new state dir: deploys afresh


def second_account(ledger) -> str:
    """Key (anvil) or address (embedded) of another funded account."""
    if ledger.mode == "rpc":
        return ANVIL_KEY_1
    return ledger.chain.w3.eth.accounts[1]


def small_site(n_cp: int = 3):
    """Two cabinets; charge points CP-1..n on C-A, PV-1 + BAT-1 + LOAD-1 on C-B."""
    return two_cabinet_site(
        "Test garage",
        {"C-A": 16.6, "C-B": 50},
        [f"CP-{i}" for i in range(1, n_cp + 1)],
        cp_rated_kw=6.6,
        price_per_kwh=0.25,
        others={"PV-1": ("pv_inverter", 12.5, 0), "BAT-1": ("battery", 20, 50.5), "LOAD-1": ("other_load", 3, 0)},
        first_index=1,
    )

