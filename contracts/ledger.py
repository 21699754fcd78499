"""The ledger client: SC1 asset registry + SC2 status board over web3.

:class:`Ledger` implements :class:`engine.ledger.LedgerPort` and the CPO's extra
operations. This module connects and deploys; the writes are in
:mod:`contracts.ledger_writes`, the reads in :mod:`contracts.ledger_reads` and the site
sync in :mod:`contracts.ledger_sync`. Build one with :meth:`Ledger.connect`:

* ``CHAIN_RPC_URL`` empty or unset: an embedded in-process chain (eth-tester +
  py-evm) journaled in ``<EV_STATE_DIR>/chain/embedded/`` and replayed on connect, so
  what was written before a restart stays readable; the contracts are deployed on the
  first connect; call :meth:`Ledger.sync_site` to register the site.
* ``CHAIN_RPC_URL=http://...``: any EVM JSON-RPC node. The contracts recorded for that
  chain id in ``<EV_STATE_DIR>/chain/deployments.json`` are reused when their code is
  still there (else deployed again and recorded); transactions are signed with
  ``CHAIN_PRIVATE_KEY`` (anvil's first default key is the fallback for a local anvil
  only).

All values cross the edge in engine units (kW, kWh, degrees, currency/kWh) and are
converted here (W, Wh, micro-degrees, thousandths per kWh). A revert raises
:class:`ContractRevert` (a :class:`engine.ledger.LedgerError`) with the contract's
reason string; a bad input raises :class:`LedgerInputError` naming the field.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from contracts.calls import CALL_BUDGET_S
from contracts.chain import ANVIL_DEFAULT_KEY, Chain, ChainUnavailable, ContractRevert
from contracts.compile import BOARD, REGISTRY, compile_contract
from contracts.deployments import Deployment, load_deployment, record_deployment
from contracts.ledger_reads import PAGE_SIZE, LedgerReads
from contracts.ledger_sync import Progress, SiteSync
from contracts.ledger_writes import BATCH_SIZE, LedgerWrites
from contracts.records import Registration
from contracts.units import LedgerInputError, asset_key
from engine.ledger import LedgerError

__all__ = [
    "Ledger",
    "ContractRevert",
    "ChainUnavailable",
    "LedgerInputError",
    "asset_key",
    "BATCH_SIZE",
    "PAGE_SIZE",
    "ANVIL_CHAIN_ID",
    "Progress",
]

#: Chain id of a default anvil node.
ANVIL_CHAIN_ID = 31337


class Ledger(LedgerWrites, LedgerReads, SiteSync):
    """Client of SC1 (asset registry) and SC2 (status board); a LedgerPort.

    Parameters
    ----------
    chain : Chain
        Connection and sending account.
    registry_address, board_address : str
        Deployed SC1 and SC2.
    deploy_block : int
        Block from which log scans start (the registry's deployment).

    Attributes
    ----------
    mode : str
        ``"embedded"`` or ``"rpc"``.
    chain_id : int
    rpc_url : str or None
    registry_address, board_address : str
    account : str
        Checksum address that signs (registrar and default operator).
    deployed_now : bool
        True if :meth:`connect` deployed the contracts (False when it reused them).
    last_sync_notes : list of str
        What the last :meth:`sync_site` could not change on chain (immutable fields).
    """

    def __init__(
        self,
        chain: Chain,
        registry_address: str,
        board_address: str,
        deploy_block: int = 0,
        state_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.chain = chain
        self._registry_c = compile_contract(REGISTRY, state_dir)
        self._board_c = compile_contract(BOARD, state_dir)
        self.registry = chain.contract(self._registry_c, registry_address)
        self.board = chain.contract(self._board_c, board_address)
        self.deploy_block = int(deploy_block)
        self.deployed_now = False
        self.last_sync_notes: list[str] = []
        self._names_lock = threading.Lock()
        self._names: dict[bytes, str] = {}
        self._registrations: dict[bytes, Registration] = {}
        self._names_scanned_to = self.deploy_block - 1

    # ------------------------------------------------------------------ construction
    @classmethod
    def connect(
        cls,
        rpc_url: str | None = None,
        private_key: str | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        retries: int = 4,
        backoff_s: float = 0.25,
        call_budget_s: float = CALL_BUDGET_S,
    ) -> "Ledger":
        """Connect to the chain chosen by ``rpc_url`` (default ``$CHAIN_RPC_URL``).

        Parameters
        ----------
        rpc_url : str, optional
            JSON-RPC URL; empty for the embedded chain. Default: ``$CHAIN_RPC_URL``.
        private_key : str, optional
            Signing key for rpc mode. Default: ``$CHAIN_PRIVATE_KEY``; for a local
            anvil (127.0.0.1/localhost, chain id 31337) anvil's first default key.
        state_dir : path, optional
            Runtime state folder (default ``$EV_STATE_DIR``).
        retries, backoff_s : int, float
            Connection retries and first backoff delay [s] (rpc mode).
        call_budget_s : float
            Longest one node call with its retries may take [s] (rpc mode): a node that
            does not answer fails the connect within about this long, so a caller can
            simply call :meth:`connect` again later.

        Raises
        ------
        ChainUnavailable
            The node does not answer (the message names the URL).
        LedgerError
            No usable private key, or deployment failed.
        """
        url = (os.environ.get("CHAIN_RPC_URL", "") if rpc_url is None else rpc_url).strip()
        state = Path(state_dir) if state_dir is not None else None
        if not url:
            chain = Chain.embedded(state)
            dep = load_deployment(chain.chain_id, state, embedded=True)
            if dep is not None and cls._usable(chain, dep, state):
                return cls(chain, dep.registry, dep.board, dep.block, state)
            return cls._deploy(chain, state, embedded=True)
        key = private_key if private_key is not None else os.environ.get("CHAIN_PRIVATE_KEY", "").strip()
        host = (urlparse(url).hostname or "").lower()
        local = host in ("127.0.0.1", "localhost", "::1")
        if not key:
            if not local:
                raise LedgerError(
                    f"CHAIN_PRIVATE_KEY: required to sign transactions on {url} "
                    "(the anvil default key is only used for a local anvil)"
                )
            key = ANVIL_DEFAULT_KEY
        chain = Chain.rpc(url, key, retries=retries, backoff_s=backoff_s, call_budget_s=call_budget_s, state_dir=state)
        if key == ANVIL_DEFAULT_KEY and chain.chain_id != ANVIL_CHAIN_ID:
            raise LedgerError(
                f"CHAIN_PRIVATE_KEY: required for {url} (chain id {chain.chain_id} is not a local anvil)"
            )
        dep = load_deployment(chain.chain_id, state)
        if dep is not None and cls._usable(chain, dep, state):
            return cls(chain, dep.registry, dep.board, dep.block, state)
        return cls._deploy(chain, state)

    @staticmethod
    def _usable(chain: Chain, dep: Deployment, state: Path | None) -> bool:
        """Whether a recorded deployment is still on chain and built from today's sources."""
        if dep.registry_hash != compile_contract(REGISTRY, state).source_hash:
            return False
        if dep.board_hash != compile_contract(BOARD, state).source_hash:
            return False
        for name, address in ((REGISTRY, dep.registry), (BOARD, dep.board)):
            code = chain.code_at(address)
            runtime = bytes.fromhex(compile_contract(name, state).bytecode_runtime[2:])
            half = len(runtime) // 2  # immutables are appended to the deployed code
            if not code or code[:half] != runtime[:half]:
                return False
        return True

    @classmethod
    def _deploy(cls, chain: Chain, state: Path | None, *, embedded: bool = False) -> "Ledger":
        reg_c = compile_contract(REGISTRY, state)
        board_c = compile_contract(BOARD, state)
        reg_addr, reg_rc = chain.deploy(reg_c)
        board_addr, _ = chain.deploy(board_c, reg_addr)
        record_deployment(
                chain.chain_id,
            Deployment(
                registry=reg_addr,
                board=board_addr,
                registry_hash=reg_c.source_hash,
                board_hash=board_c.source_hash,
                deployer=chain.account,
                block=reg_rc.block_number,
                rpc_url=chain.rpc_url or "",
                deployed_at=int(time.time()),
            ),
            state,
            embedded=embedded,
        )
        ledger = cls(chain, reg_addr, board_addr, reg_rc.block_number, state)
        ledger.deployed_now = True
        return ledger

    def for_account(self, key_or_address: str) -> "Ledger":
        """The same contracts, sending from another account (e.g. an operator's key).

        Parameters
        ----------
        key_or_address : str
            A private key (rpc mode), or an eth-tester account address (embedded).
        """
        other = Ledger(
            self.chain.with_account(key_or_address),
            self.registry_address,
            self.board_address,
            self.deploy_block,
            self.chain.state_dir,
        )
        other._names, other._registrations = self._names, self._registrations
        return other

    # ------------------------------------------------------------------ attributes
    @property
    def mode(self) -> str:
        return self.chain.mode

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id

    @property
    def rpc_url(self) -> str | None:
        return self.chain.rpc_url

    @property
    def account(self) -> str:
        return self.chain.account

    @property
    def registry_address(self) -> str:
        return str(self.registry.address)

    @property
    def board_address(self) -> str:
        return str(self.board.address)

    def ping(self) -> bool:
        """Whether the chain answers (one request, at most about 2 s)."""
        return self.chain.ping()

    def close(self) -> None:
        """Let go of this process's writer lock and (embedded) its in-memory chain.

        Connecting again on the same state folder then starts as after a restart (the
        embedded chain is replayed from its journal).
        """
        self.chain.close()

    def head(self) -> int:
        """The node's latest block number (bounded; a drop below a receipt's block means a rollback)."""
        return self.chain.block_number()

    def head_timestamp(self) -> int:
        """The latest block's timestamp [s since epoch] (the clock SC2's ``updated_at`` is on)."""
        return self.chain.head_timestamp()

