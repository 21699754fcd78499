"""The ledger's reads: statuses, assets and cabinets, bulk views, logs and human ids.

Mixed into :class:`contracts.ledger.Ledger`. Human ids are not stored on chain: they come
from the registration events (``name``), scanned once and then incrementally.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Sequence

from contracts.chain import chunks
from contracts.ledger_writes import _address
from contracts.records import AssetRecord, CabinetRecord, Registration, StatusEvent
from contracts.units import asset_key, e6_to_deg, key_hex, milli_to_price, w_to_kw, wh_to_kwh
from engine.ledger import Status, StatusReport, TxReceipt
from engine.site.model import AssetKind

if TYPE_CHECKING:  # pragma: no cover
    from web3.contract import Contract

    from contracts.chain import Chain

__all__ = ["PAGE_SIZE", "LedgerReads"]

#: Most ids the bulk views take or return per call.
PAGE_SIZE = 256


class LedgerReads:
    """SC1 and SC2 reads of :class:`contracts.ledger.Ledger`."""

    chain: "Chain"
    registry: "Contract"
    board: "Contract"
    deploy_block: int
    _names_lock: threading.Lock
    _names: dict[bytes, str]
    _registrations: dict[bytes, Registration]
    _names_scanned_to: int

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
            **self._registered(key),
        )

    def _decode_cabinet(self, key: bytes, info: Sequence[Any], human: str | None = None) -> CabinetRecord | None:
        threshold, lat, lon, exists = info
        if not exists:
            return None
        return CabinetRecord(
            human or self._names.get(key, key_hex(key)), key_hex(key), w_to_kw(threshold), e6_to_deg(lat),
            e6_to_deg(lon), **self._registered(key),
        )

    def _registered(self, key: bytes) -> dict[str, Any]:
        """``tx_hash`` and ``block`` of a record: where its registering log is, if known."""
        reg = self._registrations.get(key)
        return {"tx_hash": reg.tx_hash, "block": reg.block} if reg else {}

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
