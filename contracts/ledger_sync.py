"""Making the chain match the site: the ledger's ``sync_site``.

Mixed into :class:`contracts.ledger.Ledger`: registers what is missing, sets thresholds,
moves assets and sets prices that differ; notes what SC1 cannot change.
"""

from __future__ import annotations

from typing import Callable

from contracts.units import asset_key, deg_to_e6, key_hex, kw_to_w, kwh_to_wh, price_to_milli
from engine.ledger import TxReceipt
from engine.site.model import AssetKind, Site

__all__ = ["Progress", "SiteSync"]

Progress = Callable[[int, int], None]


class SiteSync:
    """``sync_site`` of :class:`contracts.ledger.Ledger` (built on its reads and writes)."""

    last_sync_notes: list[str]

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
