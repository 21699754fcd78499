"""Compile the Vyper contracts with the ``vyper`` package, cached by source hash.

Compiling costs a few seconds, so the ABI and bytecode are cached in
``<EV_STATE_DIR>/chain/build/<name>-<hash>.json``; the hash covers the contract's
source, every imported module (snekmate), the compiler version and the EVM version.
``python -m contracts.compile`` compiles both contracts and prints their sizes.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vyper
from vyper.cli.vyper_compile import get_search_paths
from vyper.compiler.input_bundle import FilesystemInputBundle
from vyper.evm.opcodes import DEFAULT_EVM_VERSION

from contracts.state import chain_dir, read_json, write_json_atomic

__all__ = ["CompiledContract", "CONTRACTS_DIR", "REGISTRY", "BOARD", "compile_contract", "source_hash"]

CONTRACTS_DIR = Path(__file__).resolve().parent
REGISTRY = "asset_registry"
BOARD = "status_board"

_LOCK = threading.Lock()
_MEMO: dict[str, "CompiledContract"] = {}


@dataclass(frozen=True)
class CompiledContract:
    """ABI and bytecode of one compiled contract.

    Parameters
    ----------
    name : str
        Contract file stem, e.g. ``"asset_registry"``.
    abi : list of dict
    bytecode : str
        Deployment (init) bytecode, 0x-hex.
    bytecode_runtime : str
        Runtime bytecode without immutables, 0x-hex.
    source_hash : str
        sha256 over sources, compiler and EVM version (hex).
    """

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    bytecode_runtime: str
    source_hash: str


def _search_paths() -> list[Path]:
    return get_search_paths([str(CONTRACTS_DIR)])


def _imported_sources(source: str) -> list[Path]:
    """Files a contract may import (for the cache key): the repository's own modules and
    interfaces (every ``contracts/*.vy`` and ``contracts/interfaces/*.vyi``) and the snekmate
    modules it names."""
    out: list[Path] = sorted(CONTRACTS_DIR.glob("*.vy")) + sorted((CONTRACTS_DIR / "interfaces").glob("*.vyi"))
    for line in source.splitlines():
        words = line.split()
        if len(words) >= 4 and words[0] == "from" and words[2] == "import" and words[1].startswith("snekmate"):
            pkg = words[1].replace(".", "/")
            for mod in "".join(words[3:]).split(","):
                for base in _search_paths():
                    cand = base / pkg / f"{mod.strip()}.vy"
                    if cand.is_file():
                        out.append(cand)
                        break
    return out


def source_hash(name: str) -> str:
    """sha256 (hex) of a contract's source, its imports, the compiler and EVM versions."""
    path = CONTRACTS_DIR / f"{name}.vy"
    source = path.read_text()
    h = hashlib.sha256()
    h.update(f"vyper {vyper.__version__} evm {DEFAULT_EVM_VERSION}\n".encode())
    h.update(source.encode())
    for dep in _imported_sources(source):
        h.update(dep.name.encode())
        h.update(dep.read_bytes())
    return h.hexdigest()


def compile_contract(name: str, state_dir: str | os.PathLike[str] | None = None) -> CompiledContract:
    """Compiled ABI and bytecode of ``contracts/<name>.vy`` (cached on disk and in memory).

    Parameters
    ----------
    name : str
        ``"asset_registry"`` or ``"status_board"``.
    state_dir : path, optional
        State folder (default ``$EV_STATE_DIR``).
    """
    digest = source_hash(name)
    with _LOCK:
        if digest in _MEMO:
            return _MEMO[digest]
        cache = chain_dir(state_dir) / "build" / f"{name}-{digest[:20]}.json"
        data = read_json(cache, None)
        if not (isinstance(data, dict) and data.get("source_hash") == digest and data.get("bytecode")):
            path = CONTRACTS_DIR / f"{name}.vy"
            out = vyper.compile_code(
                path.read_text(),
                contract_path=str(path),
                input_bundle=FilesystemInputBundle(_search_paths()),
                output_formats=["abi", "bytecode", "bytecode_runtime"],
            )
            data = {
                "name": name,
                "abi": out["abi"],
                "bytecode": out["bytecode"],
                "bytecode_runtime": out["bytecode_runtime"],
                "source_hash": digest,
            }
            write_json_atomic(cache, data)
        compiled = CompiledContract(
            name=name,
            abi=data["abi"],
            bytecode=data["bytecode"],
            bytecode_runtime=data["bytecode_runtime"],
            source_hash=digest,
        )
        _MEMO[digest] = compiled
        return compiled


def main() -> None:
    """Compile both contracts and print their sizes."""
    for name in (REGISTRY, BOARD):
        c = compile_contract(name)
        print(f"{name}: init {len(c.bytecode) // 2 - 1} B, runtime {len(c.bytecode_runtime) // 2 - 1} B, hash {c.source_hash[:12]}")


if __name__ == "__main__":
    main()
