"""Recorded deployments per chain id: ``<EV_STATE_DIR>/chain/deployments.json``.

The file maps a chain id (as a string) to the addresses of the registry and the
status board deployed there, the source hashes they were compiled from, the deployer
and the deployment block::

    {"31337": {"registry": "0x..", "board": "0x..", "registry_hash": "..",
               "board_hash": "..", "deployer": "0x..", "block": 1, "rpc_url": "..",
               "deployed_at": 1732550000}}

Writes are atomic. The embedded chain records its own deployment beside its journal
(``chain/embedded/deployments.json``): it is replayed on start, so its contracts persist too.
"""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from contracts.state import chain_dir, read_json, write_json_atomic

__all__ = ["Deployment", "deployments_path", "load_deployment", "record_deployment"]

_LOCK = threading.Lock()


@dataclass(frozen=True)
class Deployment:
    """One chain's recorded pair of contracts.

    Parameters
    ----------
    registry, board : str
        Checksum addresses of SC1 and SC2.
    registry_hash, board_hash : str
        Source hashes they were compiled from (``contracts.compile.source_hash``).
    deployer : str
        Account that deployed them (the admin).
    block : int
        Block of the registry's deployment (log scans start here).
    rpc_url : str
        URL they were deployed through (informational).
    deployed_at : int
        Wall-clock time of the deployment [s since epoch].
    """

    registry: str
    board: str
    registry_hash: str
    board_hash: str
    deployer: str
    block: int
    rpc_url: str = ""
    deployed_at: int = 0

    @classmethod
    def from_dict(cls, d: Any) -> "Deployment | None":
        """Parse one entry; None if malformed."""
        if not isinstance(d, dict):
            return None
        try:
            return cls(
                registry=str(d["registry"]),
                board=str(d["board"]),
                registry_hash=str(d.get("registry_hash", "")),
                board_hash=str(d.get("board_hash", "")),
                deployer=str(d.get("deployer", "")),
                block=int(d.get("block", 0)),
                rpc_url=str(d.get("rpc_url", "")),
                deployed_at=int(d.get("deployed_at", 0)),
            )
        except (KeyError, TypeError, ValueError):
            return None


def deployments_path(state_dir: str | os.PathLike[str] | None = None, *, embedded: bool = False) -> Path:
    """Path of the deployments file (``embedded``: the embedded chain's own, beside its journal)."""
    if embedded:
        return chain_dir(state_dir) / "embedded" / "deployments.json"
    return chain_dir(state_dir) / "deployments.json"


def load_deployment(
    chain_id: int, state_dir: str | os.PathLike[str] | None = None, *, embedded: bool = False
) -> Deployment | None:
    """The recorded deployment for ``chain_id``, or None."""
    data = read_json(deployments_path(state_dir, embedded=embedded), {})
    if not isinstance(data, dict):
        return None
    return Deployment.from_dict(data.get(str(chain_id)))


def record_deployment(
    chain_id: int,
    deployment: Deployment,
    state_dir: str | os.PathLike[str] | None = None,
    *,
    embedded: bool = False,
) -> None:
    """Record (or replace) the deployment for ``chain_id``, atomically."""
    path = deployments_path(state_dir, embedded=embedded)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK:
        data = read_json(path, {})
        if not isinstance(data, dict):
            data = {}
        data[str(chain_id)] = asdict(deployment)
        write_json_atomic(path, data)
