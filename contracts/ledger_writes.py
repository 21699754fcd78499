"""The ledger's writes: SC1 registrations and edits, SC2 statuses, exactly-once posting.

Mixed into :class:`contracts.ledger.Ledger`. Values cross the edge in engine units and are
converted and validated here (a bad input raises :class:`LedgerInputError` naming the
field); every write goes through :mod:`contracts.transactions` (signed locally, sent at
most once per intent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from web3 import Web3

from contracts.calls import budget
from contracts.chain import chunks
from contracts.units import (
    LedgerInputError,
    asset_key,
    deg_to_e6,
    kw_to_w,
    kwh_to_wh,
    power_kw_to_w,
    price_to_milli,
)
from engine.ledger import Settlement, SignedWrite, StatusReport, TxReceipt
from engine.site.model import Asset, AssetKind, Cabinet
from engine.validate import integer, text

if TYPE_CHECKING:  # pragma: no cover
    from web3.contract import Contract

    from contracts.chain import Chain

__all__ = ["BATCH_SIZE", "LedgerWrites"]

#: Most statuses SC2 takes in one ``update_batch``.
BATCH_SIZE = 64

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


class LedgerWrites:
    """SC1 and SC2 writes of :class:`contracts.ledger.Ledger`."""

    chain: "Chain"
    registry: "Contract"
    board: "Contract"

    account: str
    _remember: Any  # LedgerReads._remember: key -> human id and registration

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


def _name(human_id: str, field_name: str) -> str:
    """An id as SC1 stores it: non-blank text of at most 64 bytes."""
    return text(human_id, field_name, max_bytes=64, error=LedgerInputError)


def _address(value: str, field_name: str) -> str:
    if not isinstance(value, str) or not Web3.is_address(value):
        raise LedgerInputError(field_name, f"not an address: {value!r}")
    return Web3.to_checksum_address(value)


def _encode_report(report: StatusReport, path: str) -> tuple[bytes, int, int, int]:
    """(key, status, power W, energy Wh) of a report, validated field by field."""
    if not isinstance(report, StatusReport):
        raise LedgerInputError(path, f"must be a StatusReport, got {type(report).__name__}")
    # a uint8 on chain; SC2 itself refuses statuses above 8 (its revert reason is the message)
    status = integer(report.status, f"{path}.status", lo=0, hi=255, strict=True, error=LedgerInputError)
    return (
        asset_key(text(report.asset_id, f"{path}.asset_id", error=LedgerInputError)),
        status,
        power_kw_to_w(report.power_kw, f"{path}.power_kw"),
        kwh_to_wh(report.energy_kwh, f"{path}.energy_kwh"),
    )
