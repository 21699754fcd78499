"""Gas budgets of docs/contracts.md, asserted on transaction receipts (eth-tester and anvil)."""

from __future__ import annotations

from bench.gas_report import BUDGETS, measure_gas


def test_gas_budgets(ledger):
    figures = {f.name: f for f in measure_gas(ledger)}
    assert figures["register_asset"].gas <= BUDGETS["register_asset"] == 150_000
    assert figures["update_status"].gas <= BUDGETS["update_status"] == 40_000
    assert figures["update_batch_per_asset"].gas <= BUDGETS["update_batch_per_asset"] == 15_000
    assert figures["update_batch_64"].gas == figures["update_batch_per_asset"].gas * 64
    # sanity: the measurement saw real work (a fresh status costs a new storage slot)
    assert figures["update_batch_64_first"].gas > figures["update_batch_64"].gas + 64 * 15_000
    assert all(f.ok for f in figures.values())
