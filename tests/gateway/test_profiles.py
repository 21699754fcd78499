"""Profile construction: periods, units, limits, and the charge point's reading of them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, _validate_payload

from engine.chargers import Setpoint
from gateway.ocpp16.profiles import (
    ProfileError,
    ProfileLimit,
    Segment,
    from_unit,
    iso,
    segments_from,
    segments_of,
    to_unit,
    tx_profile,
)

TZ = ZoneInfo("America/Los_Angeles")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=TZ)


def _validate(profile: dict) -> None:
    """Check a profile against the OCPP 1.6J SetChargingProfile schema (the ocpp package's)."""
    _validate_payload(Call("1", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile}), "1.6")


def test_absolute_tx_profile_merges_equal_periods_and_ends_at_zero():
    sp = Setpoint("CP", 7.0, T0, 15.0, (7.0, 7.0, 3.5, 0.0, 0.0, 2.0))
    p = tx_profile(sp, unit="W", profile_id=3, transaction_id=42, voltage_v=208.0)
    _validate(p)
    assert p["chargingProfilePurpose"] == "TxProfile"
    assert p["chargingProfileKind"] == "Absolute"
    assert p["transactionId"] == 42 and p["chargingProfileId"] == 3 and p["stackLevel"] == 0
    s = p["chargingSchedule"]
    assert s["startSchedule"] == "2026-03-02T16:00:00Z"  # 8:00 in Pasadena, in UTC
    assert s["chargingRateUnit"] == "W"
    assert "duration" not in s  # the final 0 holds until the transaction ends
    assert s["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 7000.0},
        {"startPeriod": 1800, "limit": 3500.0},
        {"startPeriod": 2700, "limit": 0.0},
        {"startPeriod": 4500, "limit": 2000.0},
        {"startPeriod": 5400, "limit": 0.0},
    ]


def test_empty_schedule_holds_power_for_ever():
    p = tx_profile(Setpoint("CP", 4.2, T0, 5.0), unit="W", profile_id=1, transaction_id=None, voltage_v=230)
    _validate(p)
    assert p["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 4200.0}]
    assert "transactionId" not in p


def test_amperes_round_down_and_never_exceed_the_plan():
    kws = (6.656, 3.333, 1.0, 0.05)
    sp = Setpoint("CP", kws[0], T0, 5.0, kws)
    p = tx_profile(sp, unit="A", profile_id=1, transaction_id=1, voltage_v=208.0)
    _validate(p)
    periods = p["chargingSchedule"]["chargingSchedulePeriod"]
    assert [x["limit"] for x in periods] == [32.0, 16.0, 4.8, 0.2, 0.0]
    assert all(x["numberPhases"] == 1 for x in periods)
    for kw, per in zip(kws, periods):
        back = from_unit(per["limit"], "A", voltage_v=208.0, phases=1)
        assert back <= kw + 1e-9 and kw - back < 0.1 * 208.0 / 1000.0 + 1e-9


def test_watts_round_down_to_a_tenth():
    assert to_unit(5.54666666, "W", voltage_v=230, phases=1) == 5546.6
    assert to_unit(6.656, "W", voltage_v=230, phases=1) == 6656.0
    assert to_unit(-1.0, "W", voltage_v=230, phases=1) == 0.0
    assert to_unit(11.0, "A", voltage_v=230, phases=3) == 15.9


def test_three_phase_profile_names_its_phases():
    p = tx_profile(Setpoint("CP", 11.0, T0, 5.0, (11.0,)), unit="W", profile_id=1, transaction_id=1, voltage_v=230, phases=3)
    _validate(p)
    assert all(x["numberPhases"] == 3 for x in p["chargingSchedule"]["chargingSchedulePeriod"])


def test_max_periods_cuts_the_plan_with_a_zero():
    sp = Setpoint("CP", 1.0, T0, 5.0, tuple(float(k + 1) for k in range(30)))
    p = tx_profile(sp, unit="W", profile_id=1, transaction_id=1, voltage_v=230, max_periods=5)
    periods = p["chargingSchedule"]["chargingSchedulePeriod"]
    assert len(periods) == 5
    assert [x["limit"] for x in periods] == [1000.0, 2000.0, 3000.0, 4000.0, 0.0]
    assert periods[-1]["startPeriod"] == 4 * 300


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"unit": "kW"}, "unit"),
        ({"voltage_v": 0.0}, "voltage_v"),
        ({"phases": 4}, "phases"),
        ({"max_periods": 1}, "max_periods"),
    ],
)
def test_bad_settings_name_the_field(kwargs, field):
    args = {"unit": "W", "profile_id": 1, "transaction_id": 1, "voltage_v": 230.0, **kwargs}
    with pytest.raises(ProfileError) as err:
        tx_profile(Setpoint("CP", 1.0, T0, 5.0, (1.0,)), **args)
    assert str(err.value).startswith(field + ":")


def test_the_schema_rejects_what_1_6_forbids():
    p = tx_profile(Setpoint("CP", 1.0, T0, 5.0, (1.0,)), unit="W", profile_id=1, transaction_id=1, voltage_v=230.0)
    p["chargingSchedule"]["chargingRateUnit"] = "kW"
    with pytest.raises(OCPPError):
        _validate(p)


def test_charge_point_reads_the_profile_as_the_setpoint():
    sp = Setpoint("CP", 7.0, T0, 5.0, (7.0, 2.5, 0.0, 4.0))
    p = tx_profile(sp, unit="W", profile_id=1, transaction_id=1, voltage_v=230.0)
    pl = ProfileLimit(p, voltage_v=230.0)
    for minutes in range(-10, 40):
        t = T0 + timedelta(minutes=minutes, seconds=30)
        assert pl.limit_kw(t) == pytest.approx(sp.limit_at(t)), minutes
    assert pl.changes_between(T0, T0 + timedelta(minutes=30)) == [
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=10),
        T0 + timedelta(minutes=15),
        T0 + timedelta(minutes=20),
    ]


def test_duration_ends_the_limit():
    prof = {
        "chargingProfileId": 1,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "startSchedule": iso(T0),
            "duration": 600,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}],
        },
    }
    pl = ProfileLimit(prof, voltage_v=230.0)
    assert pl.limit_kw(T0 + timedelta(minutes=5)) == pytest.approx(2.3)
    assert pl.limit_kw(T0 + timedelta(minutes=10)) is None


def test_segments_from_compares_plans_from_now_on():
    a = segments_of(Setpoint("CP", 3.0, T0, 5.0, (3.0, 3.0, 1.0)))
    b = segments_of(Setpoint("CP", 3.0, T0 + timedelta(minutes=5), 5.0, (3.0, 1.0)))
    now = T0 + timedelta(minutes=5)
    assert segments_from(a, now) == segments_from(b, now)
    assert segments_from(a, now)[0] == Segment(now, 3.0)
    c = segments_of(Setpoint("CP", 3.0, now, 5.0, (3.0, 2.0)))
    assert segments_from(a, now) != segments_from(c, now)


def test_iso_is_utc_with_z_and_refuses_naive_times():
    assert iso(datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)) == "2026-01-01T12:00:00.123Z"
    with pytest.raises(ProfileError):
        iso(datetime(2026, 1, 1))


def test_lead_in_starts_earlier_in_the_first_limit():
    sp = Setpoint("CP", 5.0, T0, 5.0, (5.0, 4.0))
    p = tx_profile(sp, unit="W", profile_id=1, transaction_id=1, voltage_v=230.0, lead_in_s=60)
    _validate(p)
    s = p["chargingSchedule"]
    assert s["startSchedule"] == "2026-03-02T15:59:00Z"
    assert s["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 5000.0},
        {"startPeriod": 360, "limit": 4000.0},
        {"startPeriod": 660, "limit": 0.0},
    ]
    pl = ProfileLimit(p, voltage_v=230.0)
    for seconds in range(-120, 900, 15):
        t = T0 + timedelta(seconds=seconds)
        assert pl.limit_kw(t) == pytest.approx(sp.limit_at(t)), seconds
    with pytest.raises(ProfileError) as err:
        tx_profile(sp, unit="W", profile_id=1, transaction_id=1, voltage_v=230.0, lead_in_s=-1)
    assert str(err.value).startswith("lead_in_s:")
