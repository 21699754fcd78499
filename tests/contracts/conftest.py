"""Fixtures for the contract tests: titanoboa deployments and a registered sample group."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import boa
import pytest
from eth_utils import keccak

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
