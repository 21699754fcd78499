"""KPI arithmetic on hand-made sessions; tariff lookup."""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from engine.replay.acn import ACN_TZ
from engine.replay.kpi import KPI_KEYS, compute_kpis, session_met
from engine.replay.problem import ReplayError
from engine.replay.tariff import DEFAULT_TARIFF, available_tariffs, load_tariff

SPEC_KEYS = ["algorithm", "sessions", "requested_kwh", "deliverable_kwh", "delivered_kwh", "energy_delivered_pct",
             "demands_met_pct", "promises", "promised_kwh", "promises_kept", "peak_kw", "overload_kwh",
             "energy_cost", "solve_ms_median", "wall_seconds"]


def test_kpis_by_hand():
    demand = np.array([10.0, 20.0, 5.0, 0.0])
    got = np.array([10.0, 19.85, 4.0, 0.0])  # 19.85 >= 0.99 * 20 -> met; 4 of 5 is not
    load = np.array([0.0, 12.0, 30.0, 6.0])  # kW per 15-min step
    price = np.array([0.1, 0.1, 0.5, 0.2])
    k = compute_kpis("edf", demand, got, load, 20.0, price, 0.25, [0.001, 0.003, 0.002], 1.5)
    assert list(k) == SPEC_KEYS == list(KPI_KEYS)
    assert k["sessions"] == 4
    assert k["requested_kwh"] == k["deliverable_kwh"] == 35.0 and k["delivered_kwh"] == 33.85
    assert k["promises"] == 0 and k["promised_kwh"] == 0.0 and k["promises_kept"] == 0
    assert k["energy_delivered_pct"] == round(100 * 33.85 / 35, 2)
    assert k["demands_met_pct"] == 75.0  # the zero-demand session is met
    assert k["peak_kw"] == 30.0
    assert k["overload_kwh"] == 2.5  # (30 - 20) kW x 0.25 h
    assert k["energy_cost"] == pytest.approx((12 * 0.1 + 30 * 0.5 + 6 * 0.2) * 0.25)
    assert k["solve_ms_median"] == 2.0 and k["wall_seconds"] == 1.5


def test_requested_is_what_was_asked_and_promises_count():
    """requested_kwh = the needs as the data give them; deliverable_kwh = capped; promises
    count non-zero promises, and kept ones among cars that stayed until their stated departure."""
    deliverable = np.array([10.0, 6.6, 5.0, 8.0])
    asked = np.array([10.0, 20.0, 5.0, 8.0])
    got = np.array([10.0, 6.6, 2.0, 1.0])
    promised = np.array([10.0, 6.6, 3.0, 0.0])
    stayed = np.array([True, True, True, True])
    k = compute_kpis("mpc", deliverable, got, np.zeros(2), 20.0, np.zeros(2), 0.25, [0.01], 1.0,
                     requested_kwh=asked, promised_kwh=promised, stayed=stayed)
    assert k["requested_kwh"] == 43.0 and k["deliverable_kwh"] == 29.6
    assert k["energy_delivered_pct"] == round(100 * 19.6 / 29.6, 2)
    assert k["promises"] == 3 and k["promised_kwh"] == 19.6 and k["promises_kept"] == 2
    stayed[2] = False  # left before its stated departure: its promise is not held against the site
    k = compute_kpis("mpc", deliverable, got, np.zeros(2), 20.0, np.zeros(2), 0.25, [0.01], 1.0,
                     requested_kwh=asked, promised_kwh=promised, stayed=stayed)
    assert k["promises"] == 3 and k["promises_kept"] == 2


def test_kpis_empty_and_met_rule():
    k = compute_kpis("mpc", np.zeros(0), np.zeros(0), np.zeros(5), 10.0, np.zeros(5), 1 / 12, [], 0.0)
    assert k["sessions"] == 0 and k["energy_delivered_pct"] == 100.0 and k["demands_met_pct"] == 100.0
    assert k["solve_ms_median"] == 0.0 and k["overload_kwh"] == 0.0
    assert list(session_met([10, 10, 10], [9.9, 9.89, 11])) == [True, False, True]


def test_tariff_prices_by_season_weekday_and_hour():
    t = load_tariff(DEFAULT_TARIFF)
    assert t.title == "SCE TOU-EV-8"
    summer_weekday = datetime(2019, 7, 3, 17, 0, tzinfo=ACN_TZ)  # Wednesday, peak 16-21
    summer_weekend = datetime(2019, 7, 6, 17, 0, tzinfo=ACN_TZ)
    winter_morning = datetime(2019, 5, 6, 9, 30, tzinfo=ACN_TZ)  # winter is 10-01 .. 5-31
    assert t.price_at(summer_weekday) == 0.49619
    assert t.price_at(summer_weekend) == 0.25563
    assert t.price_at(winter_morning) == 0.07724
    assert t.price_at(datetime(2019, 5, 6, 7, 59, tzinfo=ACN_TZ)) == 0.13568
    assert set(available_tariffs()) >= {"sce_tou_ev_8_june_2019", "pge_a10_tou_aug_2019"}
    with pytest.raises(ReplayError, match="^--tariff"):
        load_tariff("nope")


def test_malformed_tariff_names_the_option(tmp_path):
    p = tmp_path / "t.json"
    p.write_text('{"schedule": [{"effective_start": "13-01", "effective_end": "1-1", "dow_mask": "ALL",'
                 ' "times": [0], "tariffs": [0.1]}]}')
    with pytest.raises(ReplayError, match="^--tariff"):
        load_tariff(str(p))
