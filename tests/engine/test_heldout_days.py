"""The held-out bench's second set of days (``--days sample``): chosen by rule, disjoint from the first."""

from datetime import date

from bench.replay_heldout import CALTECH_DAYS, JPL_DAYS, WINTER_BREAK, sample_days
from engine.replay import default_paths, load_window


def test_the_sample_is_weekdays_outside_the_bench_and_the_winter_break():
    for site, bench in (("caltech", CALTECH_DAYS), ("jpl", JPL_DAYS)):
        days = sample_days(site)
        assert len(days) >= 10
        assert len(set(days)) == len(days)
        assert not set(days) & set(bench)
        for d in map(date.fromisoformat, days):
            assert d.weekday() < 5
            assert not WINTER_BREAK[0] <= d <= WINTER_BREAK[1]


def test_every_sample_day_is_in_the_shipped_data():
    for site in ("caltech", "jpl"):
        for day in sample_days(site)[::5]:
            assert load_window(default_paths(site), day, demand="requested").n > 0, (site, day)
