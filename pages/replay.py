"""Analyst replay: real ACN sessions through the charging strategies, side by side.

UI only: every number comes from :mod:`engine.replay` (cached per input with st.cache_data).
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine.replay import (
    ALGORITHMS,
    DEFAULT_TARIFF,
    SITES,
    ReplayError,
    ReplayResult,
    available_tariffs,
    data_range,
    default_paths,
    replay,
)
from pages import auth

LABELS = {
    "uncontrolled": "Uncontrolled",
    "round_robin": "Round robin",
    "edf": "EDF",
    "llf": "LLF",
    "mpc": "MPC (engine)",
    "offline": "Offline optimum",
    "offline_met": "Offline, most demands met",
}
COLORS = {
    "uncontrolled": "#7f7f7f",
    "round_robin": "#bcbd22",
    "edf": "#1f77b4",
    "llf": "#9467bd",
    "mpc": "#d62728",
    "offline": "#2ca02c",
    "offline_met": "#17becf",
}
KPI_COLUMNS = {
    "algorithm": "Strategy",
    "sessions": "Sessions",
    "requested_kwh": "Requested [kWh]",
    "deliverable_kwh": "Deliverable [kWh]",
    "delivered_kwh": "Delivered [kWh]",
    "energy_delivered_pct": "Energy delivered [%]",
    "demands_met_pct": "Demands met [%]",
    "promises": "Promises",
    "promised_kwh": "Promised [kWh]",
    "promises_kept": "Promises kept",
    "peak_kw": "Peak [kW]",
    "overload_kwh": "Overload [kWh]",
    "energy_cost": "Energy cost [$]",
    "solve_ms_median": "Solve median [ms]",
    "wall_seconds": "Wall [s]",
}
DISPLAY_ORDER = ("algorithm", "sessions", "energy_delivered_pct", "demands_met_pct", "peak_kw", "overload_kwh",
                 "promises", "promises_kept", "promised_kwh", "requested_kwh", "deliverable_kwh", "delivered_kwh",
                 "energy_cost", "solve_ms_median", "wall_seconds")
"""The KPI table's columns, the headline figures first (the CSV keeps the spec's order)."""
DEFAULT_DAY = date(2019, 5, 6)


@st.cache_data(show_spinner=False)
def _date_range(site: str) -> tuple[date, date]:
    return data_range(default_paths(site))


@st.cache_data(show_spinner=False, max_entries=12)  # a 14-day JPL result holds ~35 MB of power
def _replay(site: str, start: str, days: int, step: int, threshold: float, rated: float, departure: str,
            demand: str, tariff: str | None, algorithm: str) -> ReplayResult:
    return replay(algorithm, sessions=default_paths(site), start=start, days=days, step_minutes=step,
                  threshold_kw=threshold, rated_kw=rated, departure=departure, demand=demand, tariff=tariff)


@st.cache_data(show_spinner=False, max_entries=512)
def _sweep_point(site: str, start: str, days: int, step: int, threshold: float, rated: float, departure: str,
                 demand: str, tariff: str | None, algorithm: str) -> dict:
    return dict(_replay(site, start, days, step, threshold, rated, departure, demand, tariff, algorithm).kpis)


def _label(a: str) -> str:
    return LABELS.get(a, a)


def _inputs() -> dict | None:
    """The form; returns the submitted inputs (kept in session state across reruns)."""
    with st.form("replay_form"):
        c1, c2, c3, c4 = st.columns([1, 1, 1, 2])
        site = c1.selectbox("Site", SITES, format_func=lambda s: {"caltech": "Caltech ACN", "jpl": "JPL"}[s],
                            key="replay_site")
        lo, hi = _date_range(site)
        start = c2.date_input("First day", value=DEFAULT_DAY, min_value=lo, max_value=hi, key="replay_start")
        days = c3.number_input("Days", min_value=1, max_value=14, value=1, step=1, key="replay_days")
        threshold = c4.slider("Site import limit (threshold) [kW]", min_value=5.0, max_value=150.0, value=30.0,
                              step=1.0, key="replay_threshold")
        algos = st.multiselect("Strategies", ALGORITHMS, default=["edf", "llf", "mpc", "offline"],
                               format_func=_label, key="replay_algos")
        with st.expander("Model options"):
            o1, o2, o3, o4, o5 = st.columns(5)
            step = o1.selectbox("Step [min]", [5, 10, 15, 30, 60], index=0, key="replay_step")
            rated = o2.number_input("Charge point rating [kW]", min_value=1.0, max_value=50.0, value=6.6, step=0.1,
                                    key="replay_rated")
            departure = o3.selectbox("Deadline told", ["actual", "estimated"], key="replay_departure",
                                     help="The car always leaves at its real departure; this is what strategies are told.")
            demand = o4.selectbox("Driver need", ["delivered", "requested"], key="replay_demand",
                                  help="delivered: energy the car really took (ACN-Sim convention); "
                                       "requested: the driver's claim in the ACN app.")
            tariffs = ["none"] + available_tariffs()
            tariff = o5.selectbox("Tariff", tariffs, index=tariffs.index(DEFAULT_TARIFF), key="replay_tariff")
        submitted = st.form_submit_button("Run replay", type="primary")
    if submitted:
        if not algos:
            st.error("Strategies: choose at least one.")
            return st.session_state.get("replay_inputs")
        st.session_state["replay_inputs"] = {
            "site": site, "start": start.isoformat(), "days": int(days), "step": int(step),
            "threshold": float(threshold), "rated": float(rated), "departure": departure, "demand": demand,
            "tariff": None if tariff == "none" else tariff, "algos": list(algos),
        }
        st.session_state.pop("replay_sweep", None)
    return st.session_state.get("replay_inputs")


def _run_all(inp: dict) -> dict[str, ReplayResult]:
    """Every chosen strategy, with a progress bar (cached results return at once)."""
    algos = inp["algos"]
    bar = st.progress(0.0, text="Replaying...")
    out: dict[str, ReplayResult] = {}
    args = [inp[k] for k in ("site", "start", "days", "step", "threshold", "rated", "departure", "demand", "tariff")]
    for k, a in enumerate(algos):
        bar.progress(k / len(algos), text=f"Replaying {_label(a)} ({k + 1}/{len(algos)})...")
        out[a] = _replay(*args, a)
    bar.empty()
    return out


def _kpi_section(results: dict[str, ReplayResult]) -> pd.DataFrame:
    kpis = pd.DataFrame([r.kpis for r in results.values()])
    shown = kpis[[c for c in DISPLAY_ORDER if c in kpis.columns]].rename(columns=KPI_COLUMNS)
    shown["Strategy"] = [_label(a) for a in kpis["algorithm"]]
    ref = "offline" if "offline" in results else next(iter(results))
    st.caption(f"Deltas against {_label(ref)}.")
    cols = st.columns(len(results))
    base = results[ref].kpis

    def metric(a: str, label: str, key: str, unit: str, digits: int, value: str, inverse: bool = False) -> None:
        """A KPI with its difference to the reference (a neutral "reference"/"same" keeps rows aligned)."""
        d = results[a].kpis[key] - base[key]
        if a == ref or abs(d) < 0.5 * 10 ** -digits:
            st.metric(label, value, delta="reference" if a == ref else "same", delta_color="off", delta_arrow="off")
        else:
            st.metric(label, value, delta=f"{d:+.{digits}f} {unit}", delta_color="inverse" if inverse else "normal")

    for col, (a, r) in zip(cols, results.items()):
        k = r.kpis
        with col:
            metric(a, f"{_label(a)}: energy delivered", "energy_delivered_pct", "pp", 2,
                   f"{k['energy_delivered_pct']:.2f} %")
            metric(a, "Demands met", "demands_met_pct", "pp", 1, f"{k['demands_met_pct']:.1f} %")
            metric(a, "Peak", "peak_kw", "kW", 1, f"{k['peak_kw']:.1f} kW", inverse=True)
    st.dataframe(shown, hide_index=True, key="replay_kpi_table")
    return kpis


def _load_chart(results: dict[str, ReplayResult], threshold: float) -> None:
    fig = go.Figure()
    for a, r in results.items():
        fig.add_trace(go.Scatter(x=r.step_times, y=r.load_kw, mode="lines", name=_label(a),
                                 line={"color": COLORS.get(a), "shape": "hv", "width": 1.6}))
    fig.add_hline(y=threshold, line={"dash": "dash", "color": "black"}, annotation_text=f"threshold {threshold:g} kW")
    fig.update_layout(title="Site load vs the threshold", xaxis_title="local time", yaxis_title="load [kW]",
                      height=420, margin={"t": 50, "b": 40}, legend={"orientation": "h", "y": -0.2})
    st.plotly_chart(fig, key="replay_load_chart")


def _sessions_chart(results: dict[str, ReplayResult]) -> None:
    fig = go.Figure()
    top = 1.0
    for a, r in results.items():
        pr = r.problem
        top = max(top, float(pr.demand_kwh.max(initial=0.0)))
        fig.add_trace(go.Scatter(
            x=pr.demand_kwh, y=r.delivered_kwh, mode="markers", name=_label(a),
            marker={"color": COLORS.get(a), "size": 7, "opacity": 0.75},
            text=[f"{s} ({sid})" for s, sid in zip(r.station_ids, pr.session_ids)],
            hovertemplate="%{text}<br>need %{x:.2f} kWh<br>got %{y:.2f} kWh",
        ))
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="need met",
                             line={"dash": "dot", "color": "black"}))
    fig.update_layout(title="Requested vs delivered energy per session", xaxis_title="requested (need) [kWh]",
                      yaxis_title="delivered [kWh]", height=440, margin={"t": 50, "b": 40})
    st.plotly_chart(fig, key="replay_sessions_chart")


def _scrub(results: dict[str, ReplayResult]) -> None:
    first = next(iter(results.values()))
    times: list[datetime] = first.step_times
    busy = [k for k in range(len(times)) if any(r.load_kw[k] > 0 for r in results.values())]
    default = busy[len(busy) // 2] if busy else 0
    k = st.select_slider("Time", options=list(range(len(times))), value=default,
                         format_func=lambda i: times[i].strftime("%a %m-%d %H:%M"), key="replay_scrub")
    pr = first.problem
    present = [i for i in range(pr.n) if pr.arrival_step[i] <= k < pr.departure_step[i]]
    st.caption(f"{times[k]:%A %Y-%m-%d %H:%M}: {len(present)} cars plugged in; site load "
               + ", ".join(f"{_label(a)} {r.load_kw[k]:.1f} kW" for a, r in results.items()))
    if not present:
        st.info("No car is plugged in at this time.")
        return
    names = [f"{first.station_ids[i]} #{i}" for i in present]
    fig = go.Figure()
    for a, r in results.items():
        fig.add_trace(go.Bar(x=names, y=[r.power_kw[i, k] for i in present], name=_label(a),
                             marker_color=COLORS.get(a)))
    fig.update_layout(barmode="group", title="Charging power per car at this step", yaxis_title="power [kW]",
                      height=380, margin={"t": 50, "b": 40})
    st.plotly_chart(fig, key="replay_scrub_chart")


def _sweep(inp: dict) -> None:
    c1, c2 = st.columns([3, 1])
    lo_hi = c1.slider("Threshold range [kW]", 5, 150, (10, 70), step=5, key="replay_sweep_range")
    n = c2.number_input("Points", min_value=2, max_value=15, value=7, step=1, key="replay_sweep_points")
    if st.button("Run threshold sweep", key="replay_sweep_button"):
        lo, hi = lo_hi
        levels = [round(lo + (hi - lo) * j / (int(n) - 1), 2) for j in range(int(n))]
        bar = st.progress(0.0, text="Sweeping...")
        rows = []
        total = len(levels) * len(inp["algos"])
        done = 0
        for thr in levels:
            for a in inp["algos"]:
                bar.progress(done / total, text=f"{_label(a)} at {thr:g} kW ({done + 1}/{total})")
                k = _sweep_point(inp["site"], inp["start"], inp["days"], inp["step"], float(thr), inp["rated"],
                                 inp["departure"], inp["demand"], inp["tariff"], a)
                rows.append({**k, "threshold_kw": thr})
                done += 1
        bar.empty()
        st.session_state["replay_sweep"] = rows
    rows = st.session_state.get("replay_sweep")
    if not rows:
        st.caption("Energy delivered and demands met against the threshold, per strategy (as in the ACN papers).")
        return
    df = pd.DataFrame(rows)
    c1, c2 = st.columns(2)
    for col, key, title in ((c1, "energy_delivered_pct", "Energy delivered [%]"),
                            (c2, "demands_met_pct", "Demands met [%]")):
        fig = go.Figure()
        for a, g in df.groupby("algorithm", sort=False):
            fig.add_trace(go.Scatter(x=g["threshold_kw"], y=g[key], mode="lines+markers", name=_label(str(a)),
                                     line={"color": COLORS.get(str(a))}))
        fig.update_layout(title=f"{title} vs threshold", xaxis_title="threshold [kW]", yaxis_title=title,
                          height=380, margin={"t": 50, "b": 40})
        with col:
            st.plotly_chart(fig, key=f"replay_sweep_{key}")
    table = df.assign(algorithm=[_label(str(a)) for a in df["algorithm"]])
    table = table[["threshold_kw"] + [c for c in table.columns if c != "threshold_kw"]]
    st.dataframe(table.rename(columns={**KPI_COLUMNS, "threshold_kw": "Threshold [kW]"}), hide_index=True,
                 key="replay_sweep_table")


def _export(results: dict[str, ReplayResult], kpis: pd.DataFrame, inp: dict) -> None:
    stem = f"replay_{inp['site']}_{inp['start']}_{inp['days']}d_{inp['threshold']:g}kW"
    sessions = pd.DataFrame([row for r in results.values() for row in r.sessions_table()])
    load = pd.DataFrame([row for r in results.values() for row in r.load_table()])
    c1, c2, c3 = st.columns(3)
    c1.download_button("KPIs (CSV)", kpis.to_csv(index=False).encode(), f"{stem}_kpis.csv", "text/csv",
                       key="replay_dl_kpis")
    c2.download_button("Sessions (CSV)", sessions.to_csv(index=False).encode(), f"{stem}_sessions.csv",
                       "text/csv", key="replay_dl_sessions")
    c3.download_button("Load series (CSV)", load.to_csv(index=False).encode(), f"{stem}_load.csv", "text/csv",
                       key="replay_dl_load")


def main() -> None:
    """The page."""
    st.title("Replay: real sessions through the strategies")
    st.caption("ACN-Data sessions (Caltech / JPL; Lee, Li, Low, e-Energy 2019, CC BY 4.0) replayed on one site "
               "cabinet. Uncontrolled ignores the threshold; EDF, LLF and round robin are online heuristics; "
               "MPC is this project's engine re-planned online with the kiosk's promise policy; offline knows every "
               "session in advance (the upper bound of energy), offline_met too (the upper bound of demands met).")
    inp = _inputs()
    if inp is None:
        st.info("Choose a site, day(s), threshold and strategies, then press **Run replay**.")
        return
    try:
        results = _run_all(inp)
    except ReplayError as exc:
        st.error(str(exc))
        return
    first = next(iter(results.values()))
    rep = first.report
    st.subheader(f"{first.kpis['sessions']} sessions, {inp['start']} + {inp['days']} day(s), "
                 f"threshold {inp['threshold']:g} kW")
    skipped = ", ".join(f"{v} {k}" for k, v in rep.skipped.items()) or "none"
    clipped = ", ".join(f"{v} {k}" for k, v in rep.clipped.items()) or "none"
    st.caption(f"Files: {rep.rows_read} rows, {rep.rows_valid} valid. Skipped: {skipped}. Clipped: {clipped}. "
               f"{rep.no_driver_input} session(s) without driver input (their need is the energy they took).")
    kpis = _kpi_section(results)
    t_load, t_sess, t_scrub, t_sweep, t_export = st.tabs(
        ["Site load", "Sessions", "Scrub through time", "Threshold sweep", "Export"])
    with t_load:
        _load_chart(results, inp["threshold"])
    with t_sess:
        _sessions_chart(results)
    with t_scrub:
        _scrub(results)
    with t_sweep:
        _sweep(inp)
    with t_export:
        _export(results, kpis, inp)


auth.gate()  # CPO only (pages/auth.py)
main()
