"""The ledger client: SC1 asset registry + SC2 status board over web3.

:class:`Ledger` implements :class:`engine.ledger.LedgerPort` and the CPO's extra
operations. Build one with :meth:`Ledger.connect`:

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
from typing import Any, Callable, Sequence
from urllib.parse import urlparse

from contracts.calls import CALL_BUDGET_S, budget
from contracts.chain import ANVIL_DEFAULT_KEY, Chain, ChainUnavailable, ContractRevert, chunks
from contracts.compile import BOARD, REGISTRY, compile_contract
from contracts.deployments import Deployment, load_deployment, record_deployment
from contracts.records import AssetRecord, CabinetRecord, Registration, StatusEvent
from contracts.units import (
    LedgerInputError,
    asset_key,
    deg_to_e6,
    e6_to_deg,
    key_hex,
    kw_to_w,
    kwh_to_wh,
    milli_to_price,
    power_kw_to_w,
    price_to_milli,
    w_to_kw,
    wh_to_kwh,
)
from engine.ledger import LedgerError, Settlement, SignedWrite, Status, StatusReport, TxReceipt
from engine.site import Asset, AssetKind, Cabinet, Site

__all__ = [
    "Ledger",
    "ContractRevert",
    "ChainUnavailable",
    "LedgerInputError",
    "asset_key",
    "BATCH_SIZE",
    "ANVIL_CHAIN_ID",
]

#: Most statuses SC2 takes in one ``update_batch``.
BATCH_SIZE = 64
#: Most ids the bulk views take or return per call.
PAGE_SIZE = 256
#: Chain id of a default anvil node.
ANVIL_CHAIN_ID = 31337

# Gas limits for the embedded chain (eth-tester's estimation is slow); generous.
_GAS = {
    "register_cabinet": 250_000,
    "set_threshold": 100_000,
    "register_asset": 300_000,
    "move_asset": 150_000,
    "set_price": 100_000,
    "set_operator": 100_000,
    "deactivate": 100_000,
    "admin": 100_000,
    "update_status": 150_000,
}


def _batch_gas(n: int) -> int:
    return 120_000 + 40_000 * n


Progress = Callable[[int, int], None]


class Ledger:
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

    def _tx(self, fn: Any, gas_key: str, action: str) -> TxReceipt:
        return self.chain.transact(fn, gas=_GAS[gas_key], action=action)

    # ------------------------------------------------------------------ SC1 writes
    def register_cabinet(self, cabinet: Cabinet) -> TxReceipt:
        """Register a cabinet (its human id travels as the event's name)."""
        key = asset_key(cabinet.id)
        fn = self.registry.functions.register_cabinet(
            key,
            _name(cabinet.id, "cabinet.id"),
            kw_to_w(cabinet.threshold_kw, "cabinet.threshold_kw"),
            deg_to_e6(cabinet.lat, "cabinet.lat", 90),
            deg_to_e6(cabinet.lon, "cabinet.lon", 180),
        )
        rc = self._tx(fn, "register_cabinet", f"register cabinet {cabinet.id}")
        self._remember(key, cabinet.id, rc)
        return rc

    def set_threshold(self, cabinet_id: str, threshold_kw: float) -> TxReceipt:
        """Set a cabinet's power threshold [kW]."""
        fn = self.registry.functions.set_threshold(asset_key(cabinet_id), kw_to_w(threshold_kw, "threshold_kw"))
        return self._tx(fn, "set_threshold", f"set threshold of {cabinet_id}")

    def register_asset(self, asset: Asset, operator: str | None = None) -> TxReceipt:
        """Register an asset; its operator defaults to this ledger's account.

        Parameters
        ----------
        asset : Asset
            The site's asset (kW, kWh, degrees, currency/kWh are converted here).
        operator : str, optional
            Account allowed to post the asset's status (default: :attr:`account`).
        """
        key = asset_key(asset.id)
        kind = AssetKind(asset.kind)
        capacity = kwh_to_wh(asset.capacity_kwh, "asset.capacity_kwh") if kind == AssetKind.BATTERY else 0
        price = price_to_milli(asset.price_per_kwh, "asset.price_per_kwh") if kind == AssetKind.CHARGE_POINT else 0
        fn = self.registry.functions.register_asset(
            key,
            _name(asset.id, "asset.id"),
            int(kind),
            asset_key(asset.cabinet),
            _address(operator or self.account, "operator"),
            deg_to_e6(asset.lat, "asset.lat", 90),
            deg_to_e6(asset.lon, "asset.lon", 180),
            kw_to_w(asset.rated_kw, "asset.rated_kw"),
            capacity,
            price,
        )
        rc = self._tx(fn, "register_asset", f"register asset {asset.id}")
        self._remember(key, asset.id, rc)
        return rc

    def move_asset(self, asset: Asset) -> TxReceipt:
        """Record an asset's (new) cabinet and location, as the asset is now."""
        fn = self.registry.functions.move_asset(
            asset_key(asset.id),
            asset_key(asset.cabinet),
            deg_to_e6(asset.lat, "asset.lat", 90),
            deg_to_e6(asset.lon, "asset.lon", 180),
        )
        return self._tx(fn, "move_asset", f"move asset {asset.id}")

    def set_price(self, asset_id: str, price_per_kwh: float) -> TxReceipt:
        """Set a charge point's price [currency/kWh] (registrar or its operator)."""
        fn = self.registry.functions.set_price(asset_key(asset_id), price_to_milli(price_per_kwh, "price_per_kwh"))
        return self._tx(fn, "set_price", f"set price of {asset_id}")

    def set_operator(self, asset_id: str, operator: str) -> TxReceipt:
        """Hand an asset to another operator account."""
        fn = self.registry.functions.set_operator(asset_key(asset_id), _address(operator, "operator"))
        return self._tx(fn, "set_operator", f"set operator of {asset_id}")

    def deactivate(self, asset_id: str) -> TxReceipt:
        """Deactivate an asset for good."""
        return self._tx(self.registry.functions.deactivate(asset_key(asset_id)), "deactivate", f"deactivate {asset_id}")

    def grant_registrar(self, account: str) -> TxReceipt:
        """Admin: give ``account`` the registrar role."""
        fn = self.registry.functions.grant_registrar(_address(account, "account"))
        return self._tx(fn, "admin", "grant registrar")

    def revoke_registrar(self, account: str) -> TxReceipt:
        """Admin: take the registrar role from ``account``."""
        fn = self.registry.functions.revoke_registrar(_address(account, "account"))
        return self._tx(fn, "admin", "revoke registrar")

    def pause(self) -> TxReceipt:
        """Admin: stop every state change on SC1 and SC2."""
        return self._tx(self.registry.functions.pause(), "admin", "pause")

    def unpause(self) -> TxReceipt:
        """Admin: lift the pause."""
        return self._tx(self.registry.functions.unpause(), "admin", "unpause")

    # ------------------------------------------------------------------ SC2 writes
    def post_status(self, report: StatusReport) -> TxReceipt:
        """Post one asset's status (``update_status``); the caller must be its operator."""
        key, status, power, energy = _encode_report(report, "report")
        fn = self.board.functions.update_status(key, status, power, energy)
        return self._tx(fn, "update_status", f"post status of {report.asset_id}")

    def post_statuses(self, reports: Sequence[StatusReport]) -> list[TxReceipt]:
        """Post many statuses with ``update_batch``, 64 per transaction.

        Every report is validated before anything is sent (errors name
        ``reports[i].field``). A revert raises :class:`ContractRevert`; batches sent
        before it stay on chain.

        Returns
        -------
        list of TxReceipt
            One per batch, in order.
        """
        encoded = [_encode_report(r, f"reports[{i}]") for i, r in enumerate(reports)]
        out: list[TxReceipt] = []
        for n, part in enumerate(chunks(encoded, BATCH_SIZE)):
            fn = self.board.functions.update_batch(
                [p[0] for p in part], [p[1] for p in part], [p[2] for p in part], [p[3] for p in part]
            )
            out.append(self.chain.transact(fn, gas=_batch_gas(len(part)), action=f"post statuses (batch {n})"))
        return out

    # ------------------------------------------------------------------ exactly-once posting
    def sign_statuses(self, reports: Sequence[StatusReport]) -> SignedWrite:
        """Sign one SC2 ``update_batch`` of 1 to 64 reports without sending it.

        The gas limit is explicit (no estimate); the nonce comes from this key's nonce book
        under its lock. Persist the result before the first :meth:`settle`.

        Raises
        ------
        LedgerInputError
            No report, more than 64, or a bad field (``reports[i].field``).
        ChainUnavailable
            The node did not answer the nonce or fee request (nothing consumed).
        """
        if not 1 <= len(reports) <= BATCH_SIZE:
            raise LedgerInputError("reports", f"must hold 1 to {BATCH_SIZE} reports, got {len(reports)}")
        encoded = [_encode_report(r, f"reports[{i}]") for i, r in enumerate(reports)]
        fn = self.board.functions.update_batch(
            [p[0] for p in encoded], [p[1] for p in encoded], [p[2] for p in encoded], [p[3] for p in encoded]
        )
        with budget(self.chain.call_budget_s):
            return self.chain.sign(fn, gas=_batch_gas(len(encoded)), action="update_batch")

    def settle(self, write: SignedWrite) -> Settlement:
        """What became of ``write`` (mined / pending / dropped / reverted); sends it, same
        bytes, only if the node does not know it and its nonce is free. Bounded in time."""
        return self.chain.settle(write)

    # ------------------------------------------------------------------ reads
    def get_status(self, asset_id: str) -> StatusReport | None:
        """The asset's last status on chain, or None if it never posted one."""
        st, power, energy, updated = self.chain.call(self.board.functions.get_status(asset_key(asset_id)), "get_status")
        if updated == 0:
            return None
        return StatusReport(asset_id, Status(st), w_to_kw(power), wh_to_kwh(energy), int(updated))

    def get_cabinet(self, cabinet_id: str) -> CabinetRecord | None:
        """A cabinet as SC1 stores it, or None if unknown."""
        key = asset_key(cabinet_id)
        return self._decode_cabinet(key, self.chain.call(self.registry.functions.get_cabinet(key), "get_cabinet"), cabinet_id)

    def get_asset(self, asset_id: str) -> AssetRecord | None:
        """An asset as SC1 stores it, or None if unknown."""
        return self._asset_record(asset_key(asset_id), asset_id)

    def _asset_record(self, key: bytes, human: str | None = None) -> AssetRecord | None:
        return self._decode_asset(key, self.chain.call(self.registry.functions.get_asset(key), "get_asset"), human)

    def _decode_asset(self, key: bytes, info: Sequence[Any], human: str | None = None) -> AssetRecord | None:
        kind, cab, operator, lat, lon, rated, cap, price, active = info
        if kind == 0:
            return None
        reg = self._registrations.get(key)
        return AssetRecord(
            id=human or self._names.get(key, key_hex(key)),
            key=key_hex(key),
            kind=AssetKind(kind),
            cabinet=self._names.get(bytes(cab), key_hex(cab)),
            cabinet_key=key_hex(cab),
            operator=str(operator),
            lat=e6_to_deg(lat),
            lon=e6_to_deg(lon),
            rated_kw=w_to_kw(rated),
            capacity_kwh=wh_to_kwh(cap),
            price_per_kwh=milli_to_price(price),
            active=bool(active),
            tx_hash=reg.tx_hash if reg else "",
            block=reg.block if reg else -1,
        )

    def _decode_cabinet(self, key: bytes, info: Sequence[Any], human: str | None = None) -> CabinetRecord | None:
        threshold, lat, lon, exists = info
        if not exists:
            return None
        reg = self._registrations.get(key)
        return CabinetRecord(
            human or self._names.get(key, key_hex(key)), key_hex(key), w_to_kw(threshold), e6_to_deg(lat),
            e6_to_deg(lon), reg.tx_hash if reg else "", reg.block if reg else -1,
        )

    def _bulk(self, fn_name: str, keys: list[bytes]) -> list[Any]:
        """A bulk view (get_assets / get_cabinets / get_statuses) over pages of 256 keys."""
        contract = self.board if fn_name == "get_statuses" else self.registry
        out: list[Any] = []
        for part in chunks(keys, PAGE_SIZE):
            out.extend(self.chain.call(getattr(contract.functions, fn_name)(part), fn_name))
        return out

    def _all_ids(self, fn_name: str, count_name: str) -> list[bytes]:
        n = int(self.chain.call(getattr(self.registry.functions, count_name)(), count_name))
        out: list[bytes] = []
        while len(out) < n:
            page = self.chain.call(getattr(self.registry.functions, fn_name)(len(out), PAGE_SIZE), fn_name)
            if not page:
                break
            out.extend(bytes(k) for k in page)
        return out

    def get_assets(self, asset_ids: Sequence[str]) -> dict[str, AssetRecord | None]:
        """Many assets at once (one call per 256): human id -> record or None."""
        keys = [asset_key(a) for a in asset_ids]
        infos = self._bulk("get_assets", keys)
        return {a: self._decode_asset(k, info, a) for a, k, info in zip(asset_ids, keys, infos)}

    def get_cabinets(self, cabinet_ids: Sequence[str]) -> dict[str, CabinetRecord | None]:
        """Many cabinets at once (one call per 256): human id -> record or None."""
        keys = [asset_key(c) for c in cabinet_ids]
        infos = self._bulk("get_cabinets", keys)
        return {c: self._decode_cabinet(k, info, c) for c, k, info in zip(cabinet_ids, keys, infos)}

    def get_statuses(self, asset_ids: Sequence[str]) -> dict[str, StatusReport | None]:
        """Many assets' last statuses at once: human id -> report, or None if never posted."""
        keys = [asset_key(a) for a in asset_ids]
        out: dict[str, StatusReport | None] = {}
        for a, (st, power, energy, updated) in zip(asset_ids, self._bulk("get_statuses", keys)):
            out[a] = None if updated == 0 else StatusReport(a, Status(st), w_to_kw(power), wh_to_kwh(energy), int(updated))
        return out

    def read_cabinets(self) -> list[CabinetRecord]:
        """Every registered cabinet, in registration order, with human ids from the logs."""
        keys = self._all_ids("cabinet_ids", "cabinet_count")
        self._refresh_names(keys)
        recs = (self._decode_cabinet(k, info) for k, info in zip(keys, self._bulk("get_cabinets", keys)))
        return [r for r in recs if r is not None]

    def read_registry(self) -> list[AssetRecord]:
        """Every registered asset (deactivated ones too), in registration order.

        Human ids come from the AssetRegistered logs; an asset whose log is not
        available shows its 0x-hex key as id.
        """
        keys = self._all_ids("asset_ids", "asset_count")
        self._refresh_names(keys)
        recs = (self._decode_asset(k, info) for k, info in zip(keys, self._bulk("get_assets", keys)))
        return [r for r in recs if r is not None]

    def registration(self, asset_id: str) -> Registration | None:
        """(asset key hex, tx hash, block) of an asset's or cabinet's registration, or None."""
        key = asset_key(asset_id)
        self._refresh_names([key])
        return self._registrations.get(key)

    def status_history(
        self,
        asset_id: str | None = None,
        from_block: int = 0,
        to_block: int | None = None,
        chunk: int = 2000,
    ) -> list[StatusEvent]:
        """StatusUpdated logs, oldest first, read in ranges of ``chunk`` blocks.

        Parameters
        ----------
        asset_id : str, optional
            Only this asset's updates (default: all).
        from_block, to_block : int
            Inclusive block range (default: from the deployment to the latest block).
        chunk : int
            Blocks per ``eth_getLogs`` request (nodes cap the range).
        """
        filters = {"asset_id": asset_key(asset_id)} if asset_id is not None else None
        logs = self.chain.get_logs(
            self.board.events.StatusUpdated,
            argument_filters=filters,
            from_block=max(int(from_block), self.deploy_block),
            to_block=to_block,
            chunk=chunk,
        )
        if asset_id is None and logs:
            self._refresh_names([bytes(log["args"]["asset_id"]) for log in logs])
        out = []
        for log in logs:
            a = log["args"]
            key = bytes(a["asset_id"])
            out.append(
                StatusEvent(
                    asset_id=asset_id if asset_id is not None else self._names.get(key, key_hex(key)),
                    key=key_hex(key),
                    status=Status(a["status"]),
                    power_kw=w_to_kw(a["power_w"]),
                    energy_kwh=wh_to_kwh(a["energy_wh"]),
                    timestamp=int(a["timestamp"]),
                    block=int(log["blockNumber"]),
                    tx_hash=log["transactionHash"].to_0x_hex(),
                    log_index=int(log["logIndex"]),
                )
            )
        return out

    def is_registrar(self, account: str) -> bool:
        """Whether ``account`` holds SC1's registrar role."""
        return bool(self.chain.call(self.registry.functions.is_registrar(_address(account, "account")), "is_registrar"))

    def is_paused(self) -> bool:
        """Whether SC1 (and therefore SC2) is paused."""
        return bool(self.chain.call(self.registry.functions.paused(), "paused"))

    # ------------------------------------------------------------------ site sync
    def sync_site(self, site: Site, progress: Progress | None = None) -> dict[str, TxReceipt]:
        """Make the chain match the site: idempotent.

        Registers missing cabinets and assets, sets thresholds that differ, moves
        assets whose cabinet or location differ and sets charge point prices that
        differ. What SC1 cannot change (kind, rating, capacity of a registered asset;
        a deactivated asset; a cabinet's location) is listed in
        :attr:`last_sync_notes` instead.

        Parameters
        ----------
        site : Site
        progress : callable, optional
            ``progress(done, total)`` after the plan is made and after each transaction.

        Returns
        -------
        dict of str to TxReceipt
            Receipt of the last transaction per human id (empty when in sync).
        """
        notes: list[str] = []
        actions: list[tuple[str, Callable[[], TxReceipt]]] = []
        on_cabs = self.get_cabinets([c.id for c in site.cabinets])
        on_assets = self.get_assets([a.id for a in site.assets])
        for c in site.cabinets:
            on = on_cabs[c.id]
            if on is None:
                actions.append((c.id, lambda c=c: self.register_cabinet(c)))
                continue
            if kw_to_w(on.threshold_kw) != kw_to_w(c.threshold_kw, f"cabinets[{c.id}].threshold_kw"):
                actions.append((c.id, lambda c=c: self.set_threshold(c.id, c.threshold_kw)))
            if (deg_to_e6(on.lat, "lat", 90), deg_to_e6(on.lon, "lon", 180)) != (
                deg_to_e6(c.lat, "lat", 90),
                deg_to_e6(c.lon, "lon", 180),
            ):
                notes.append(f"{c.id}: cabinet location differs on chain (SC1 has no cabinet move)")
        for a in site.assets:
            on_a = on_assets[a.id]
            if on_a is None:
                actions.append((a.id, lambda a=a: self.register_asset(a)))
                continue
            if not on_a.active:
                notes.append(f"{a.id}: deactivated on chain; not changed")
                continue
            if on_a.cabinet_key != key_hex(asset_key(a.cabinet)) or (
                deg_to_e6(on_a.lat, "lat", 90),
                deg_to_e6(on_a.lon, "lon", 180),
            ) != (deg_to_e6(a.lat, f"assets[{a.id}].lat", 90), deg_to_e6(a.lon, f"assets[{a.id}].lon", 180)):
                actions.append((a.id, lambda a=a: self.move_asset(a)))
            if a.kind == AssetKind.CHARGE_POINT and price_to_milli(on_a.price_per_kwh) != price_to_milli(
                a.price_per_kwh, f"assets[{a.id}].price_per_kwh"
            ):
                actions.append((a.id, lambda a=a: self.set_price(a.id, a.price_per_kwh)))
            if on_a.kind != a.kind or kw_to_w(on_a.rated_kw) != kw_to_w(a.rated_kw) or (
                a.kind == AssetKind.BATTERY and kwh_to_wh(on_a.capacity_kwh) != kwh_to_wh(a.capacity_kwh)
            ):
                notes.append(f"{a.id}: kind/rating/capacity differ on chain; SC1 keeps them as registered")
        total = len(actions)
        if progress is not None:
            progress(0, total)
        out: dict[str, TxReceipt] = {}
        for done, (hid, act) in enumerate(actions, start=1):
            out[hid] = act()
            if progress is not None:
                progress(done, total)
        self.last_sync_notes = notes
        return out

    # ------------------------------------------------------------------ names from logs
    def _remember(self, key: bytes, human: str, rc: TxReceipt) -> None:
        with self._names_lock:
            self._names[key] = human
            self._registrations[key] = Registration(key_hex(key), rc.tx_hash, rc.block_number)

    def _refresh_names(self, wanted: Sequence[bytes] | None = None) -> None:
        """Scan registration logs since the last scan: key -> human id, tx, block.

        Skipped when every key in ``wanted`` is already known.
        """
        with self._names_lock:
            if wanted is not None and all(k in self._registrations for k in wanted):
                return
            latest = self.chain.block_number()
            start = self._names_scanned_to + 1
            if start > latest:
                return
            for event, key_arg in (
                (self.registry.events.CabinetRegistered, "cabinet_id"),
                (self.registry.events.AssetRegistered, "asset_id"),
            ):
                for log in self.chain.get_logs(event, from_block=start, to_block=latest):
                    key = bytes(log["args"][key_arg])
                    self._names[key] = str(log["args"]["name"])
                    self._registrations[key] = Registration(
                        key_hex(key), log["transactionHash"].to_0x_hex(), int(log["blockNumber"])
                    )
            self._names_scanned_to = latest


def _name(human_id: str, field_name: str) -> str:
    if not isinstance(human_id, str) or not human_id or len(human_id.encode()) > 64:
        raise LedgerInputError(field_name, f"must be a non-empty id of at most 64 bytes, got {human_id!r}")
    return human_id


def _address(value: str, field_name: str) -> str:
    from web3 import Web3

    if not isinstance(value, str) or not Web3.is_address(value):
        raise LedgerInputError(field_name, f"not an address: {value!r}")
    return Web3.to_checksum_address(value)


def _encode_report(report: StatusReport, path: str) -> tuple[bytes, int, int, int]:
    """(key, status, power W, energy Wh) of a report, validated field by field."""
    if not isinstance(report, StatusReport):
        raise LedgerInputError(path, f"must be a StatusReport, got {type(report).__name__}")
    try:
        status = int(report.status)
    except (TypeError, ValueError):
        raise LedgerInputError(f"{path}.status", f"not a status: {report.status!r}") from None
    if not 0 <= status <= 255:
        raise LedgerInputError(f"{path}.status", f"must be 0..8, got {status}")
    if not isinstance(report.asset_id, str) or not report.asset_id:
        raise LedgerInputError(f"{path}.asset_id", f"must be a non-empty string, got {report.asset_id!r}")
    return (
        asset_key(report.asset_id),
        status,
        power_kw_to_w(report.power_kw, f"{path}.power_kw"),
        kwh_to_wh(report.energy_kwh, f"{path}.energy_kwh"),
    )
