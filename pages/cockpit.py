"""CPO cockpit (``/cockpit``): the live site per cabinet and charge point, alarms, thresholds.

UI only: what is shown comes from ``engine.runtime.views.cockpit_view`` over the site's runtime
and the statuses read back from SC2. The live part refreshes itself every ``REFRESH_SECONDS``
(a ``st.fragment``); the threshold form stays outside it, so typing is never interrupted.
"""

from __future__ import annotations

import time
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine.errors import FieldError
from engine.ledger import LedgerError
from engine.runtime.views import (
    HISTORY_HOURS,
    CabinetView,
    ChargePointRow,
    CockpitView,
    LoadStack,
    cockpit_view,
)
from engine.site.model import Site
from pages import auth, ui

REFRESH_SECONDS = 5
COLORS = {"ev": "#1f77b4", "other": "#8c8c8c", "battery": "#9467bd", "pv": "#f2b701", "import": "#111111",
          "threshold": "#d62728"}


# -- drawing ---------------------------------------------------------------------------------------
def _area(fig: go.Figure, x, y, name: str, color: str, group: str, *, plan: bool) -> None:
    fig.add_trace(go.Scatter(x=x, y=y, name=name, stackgroup=group + ("_plan" if plan else ""), mode="lines",
                             line={"width": 0.5, "color": color}, fillcolor=color, opacity=0.35 if plan else 0.8,
                             legendgroup=name, showlegend=not plan,
                             hovertemplate=f"{name}{' (plan)' if plan else ''}: %{{y:.2f}} kW<extra></extra>"))


def _stack_figure(st_: LoadStack, now: datetime) -> go.Figure:
    """Measured stack (solid), plan ahead (faded), import and threshold lines, a line at now."""
    fig = go.Figure()
    for plan, times, ev, other, bat, pv in (
        (False, st_.times, st_.ev_kw, st_.other_kw, st_.battery_kw, st_.pv_kw),
        (True, st_.plan_times, st_.plan_ev_kw, st_.plan_other_kw, st_.plan_battery_kw, st_.plan_pv_kw),
    ):
        if not len(times):
            continue
        _area(fig, times, ev, "EVs", COLORS["ev"], "pos", plan=plan)
        _area(fig, times, other, "other load", COLORS["other"], "pos", plan=plan)
        _area(fig, times, [max(b, 0.0) for b in bat], "battery", COLORS["battery"], "pos", plan=plan)
        _area(fig, times, [-p for p in pv], "minus PV", COLORS["pv"], "neg", plan=plan)
        _area(fig, times, [min(b, 0.0) for b in bat], "battery", COLORS["battery"], "neg", plan=True)
    if len(st_.times):
        fig.add_trace(go.Scatter(x=st_.times, y=st_.import_kw, name="import", mode="lines",
                                 line={"color": COLORS["import"], "width": 2}))
    if len(st_.plan_times):
        fig.add_trace(go.Scatter(x=st_.plan_times, y=st_.plan_import_kw, name="import (plan)", mode="lines",
                                 line={"color": COLORS["import"], "width": 2, "dash": "dot"}))
    xs = list(st_.times) + list(st_.plan_times)
    if not xs:
        xs = [now]
    ys = list(st_.threshold_kw) + [st_.threshold_now_kw] * len(st_.plan_times)
    if len(ys) < len(xs):
        ys = [st_.threshold_now_kw] * len(xs)
    fig.add_trace(go.Scatter(x=xs, y=ys, name="threshold", mode="lines", line={"color": COLORS["threshold"],
                                                                                "dash": "dash", "width": 2}))
    fig.add_shape(type="line", x0=now, x1=now, y0=0, y1=1, yref="paper", line={"color": "#555", "width": 1})
    fig.add_annotation(x=now, y=1, yref="paper", text="now", showarrow=False, yanchor="bottom")
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 20, "b": 10}, yaxis={"title": "kW"},
                      legend={"orientation": "h", "y": -0.2}, hovermode="x unified")
    return fig


def _gauge(c: CabinetView) -> go.Figure:
    thr = c.threshold_kw
    top = max(thr * 1.25, c.import_kw * 1.05, 1.0)
    fig = go.Figure(go.Indicator(
        mode="gauge+number", value=round(c.import_kw, 2), number={"suffix": " kW", "valueformat": ".1f"},
        title={"text": f"Import vs {thr:g} kW"},
        gauge={"axis": {"range": [min(0.0, c.import_kw), top]},
               "bar": {"color": "#d62728" if c.overloaded else "#1f77b4"},
               "steps": [{"range": [0, 0.8 * thr], "color": "#e8f3e8"}, {"range": [0.8 * thr, thr], "color": "#fbefd5"},
                         {"range": [thr, top], "color": "#f8d7d7"}],
               "threshold": {"value": thr, "line": {"color": "#d62728", "width": 4}, "thickness": 0.9}}))
    fig.update_layout(height=230, margin={"l": 25, "r": 25, "t": 50, "b": 10})
    return fig


def _age(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 120:
        return f"{s:.0f} s"
    return f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


def _promise(r: ChargePointRow) -> str:
    if r.session_id is None:
        return ""
    if r.faulted:
        return "faulted"
    if r.delivered_kwh >= r.guaranteed_kwh - 0.01:
        return "kept"
    return "at risk" if r.at_risk else "on track"


def _cp_table(rows: list[ChargePointRow], now: datetime) -> pd.DataFrame:
    """One row per charge point: what it does now and its session first, then its limits and SC2."""
    def t(x: datetime | None) -> str:
        if x is None:
            return ""
        return f"{x:%H:%M}" if x.date() == now.date() else f"{x:%a %H:%M}"

    return pd.DataFrame({
        "charge point": [r.cp for r in rows],
        "status": [ui.status_label(r.status) for r in rows],
        "power [kW]": [round(r.power_kw, 3) for r in rows],
        "of rated [%]": [round(r.load_pct, 1) for r in rows],
        "promise": [_promise(r) for r in rows],
        "SOC [%]": [None if r.soc_pct is None else round(r.soc_pct) for r in rows],
        "delivered [kWh]": [round(r.delivered_kwh, 2) if r.session_id else None for r in rows],
        "guaranteed [kWh]": [round(r.guaranteed_kwh, 2) if r.session_id else None for r in rows],
        "planned [kWh]": [None if r.planned_kwh is None else round(r.planned_kwh, 2) for r in rows],
        "departure": [t(r.departure) for r in rows],
        "rated [kW]": [r.rated_kw for r in rows],
        "limit [kW]": [None if r.limit_kw is None else round(r.limit_kw, 3) for r in rows],
        "SC2 status": [ui.status_label(r.chain_status) if r.chain_status is not None else "-" for r in rows],
        "SC2 power [kW]": [r.chain_power_kw for r in rows],
        "SC2 energy [kWh]": [r.chain_energy_kwh for r in rows],
        "SC2 age": [_age(r.chain_age_s) for r in rows],
    })


CP_COLUMNS = {
    "of rated [%]": st.column_config.ProgressColumn("power vs rated", min_value=0, max_value=100, format="%.0f%%",
                                                    help="power now against the charge point's rating"),
    "planned [kWh]": st.column_config.NumberColumn(help="what the plan delivers by the departure"),
    "SC2 age": st.column_config.TextColumn(help="age of the status on chain (block time)"),
    "SC2 energy [kWh]": st.column_config.NumberColumn(help="the session's metered energy as SC2 holds it"),
}


def _alarms(view: CockpitView) -> None:
    if not view.alarms:
        st.success("No alarms.", icon=":material/check_circle:")
        return
    for a in view.alarms:
        (st.error if a.severity == "error" else st.warning)(a.message)


def _overview(view: CockpitView) -> None:
    df = pd.DataFrame({
        "cabinet": [c.id for c in view.cabinets],
        "threshold [kW]": [c.threshold_kw for c in view.cabinets],
        "import [kW]": [round(c.import_kw, 2) for c in view.cabinets],
        "headroom [kW]": [round(c.headroom_kw, 2) for c in view.cabinets],
        "EVs [kW]": [round(c.ev_kw, 2) for c in view.cabinets],
        "sessions": [c.sessions for c in view.cabinets],
        "overload [kWh]": [round(c.overload_kwh, 3) for c in view.cabinets],
    })
    st.dataframe(df, hide_index=True, width="stretch", key="cockpit_overview")


@st.fragment(run_every=REFRESH_SECONDS)
def live(shown: tuple[str, ...]) -> None:
    """Alarms, the cabinets' overview, then each shown cabinet: load stack, gauge, charge points."""
    rt = ui.runtime()
    ch = ui.chain()
    site = rt.site_of()
    statuses = ch.statuses([a.id for a in site.charge_points])
    err = None
    if ch.mode != "off" and ch.ledger is None:
        err = ch.error or "connecting"
    elif ch.syncing:
        err = "writing the site to SC1"
    view = cockpit_view(rt, statuses, wall_now=ch.chain_now(time.time()), chain_mode=ch.mode,
                        chain_answers=ch.ping() if ch.ledger is not None else False,
                        chain_error=err, cabinets=list(shown))
    _alarms(view)
    _overview(view)
    for c in view.cabinets:
        if c.id not in shown:
            continue
        st.subheader(f"{c.id} - {c.name}")
        left, right = st.columns([3, 1])
        with left:
            st.plotly_chart(_stack_figure(c.stack, view.now), key=f"stack_{c.id}")
        with right:
            st.plotly_chart(_gauge(c), key=f"gauge_{c.id}")
            st.caption(f"{c.sessions} session(s); EVs {c.ev_kw:.1f} kW, other {c.other_kw:.1f} kW, "
                       f"PV {c.pv_kw:.1f} kW, battery {c.battery_kw:+.1f} kW")
        busy = [r for r in view.rows_of(c.id) if r.session_id is not None]
        for col, r in zip(st.columns(max(3, len(busy))) if busy else [], busy):
            col.progress(min(1.0, max(0.0, r.load_pct / 100.0)),
                         text=f"**{r.cp}** {ui.power_of_rating(r.power_kw, r.rated_kw)} - {_promise(r)}")
        st.dataframe(_cp_table(view.rows_of(c.id), view.now), hide_index=True, width="stretch",
                     column_config=CP_COLUMNS, key=f"cps_{c.id}")
    st.caption(f"Updates every {REFRESH_SECONDS} s (site clock {view.now:%H:%M:%S}); "
               f"outbox: {view.outbox_pending} statuses waiting for the chain.")


# -- the threshold control ---------------------------------------------------------------------------
def set_threshold(site: Site, cabinet: str, kw: float) -> tuple[str, str]:
    """Validate, write to SC1 first, then save and re-plan; (kind of message, message).

    A refusal by the chain saves nothing; a chain that does not answer saves the edit locally,
    marked pending (the chain service writes it when the chain answers again).
    """
    ch = ui.chain()
    try:
        _, res = ch.apply_edit(ui.site_store(), lambda s: s.with_threshold(cabinet, kw), "set_threshold",
                               lambda led, new: led.set_threshold(cabinet, new.cabinet(cabinet).threshold_kw))
    except LedgerError as exc:
        return "error", f"Not saved - the chain (SC1) refused the threshold of {cabinet}: {exc.reason or exc}"
    except FieldError as exc:  # the edit itself is invalid (names the field)
        return "error", f"Not saved - {exc}"
    ui.runtime().replan(cabinet)
    if res.state == "written":
        return "success", (f"Threshold of {cabinet} set to {kw:g} kW: written to SC1 in tx `{res.tx_hash}`, "
                           "saved and re-planned.")
    if res.state == "pending":
        return "warning", (f"Threshold of {cabinet} set to {kw:g} kW, saved and re-planned, but **pending** on "
                           f"chain: SC1 does not answer ({res.detail}). It is written when the chain answers.")
    return "info", f"Threshold of {cabinet} set to {kw:g} kW, saved and re-planned (chain {ch.mode}: not on chain)."


def threshold_form(site: Site) -> None:
    msg = st.session_state.pop("cockpit_thr_msg", None)
    if msg:
        getattr(st, msg[0])(msg[1])
    cab_ids = [c.id for c in site.cabinets]
    c1, c2 = st.columns(2)
    # the cabinet is picked outside the form, so its threshold shows as soon as it is picked
    cab = c1.selectbox("Cabinet", cab_ids, key="ck_thr_cabinet")
    with c2.form("cockpit_threshold"):
        kw = st.number_input("New threshold [kW]", value=float(site.cabinet(cab).threshold_kw), step=0.5,
                             format="%.2f", key=f"ck_thr_kw_{cab}")
        if st.form_submit_button("Set threshold"):
            st.session_state["cockpit_thr_msg"] = set_threshold(site, cab, kw)
            st.rerun()


def main() -> None:
    site = ui.site_store().site()
    st.title("Cockpit")
    st.caption(f"{site.name}: each cabinet's load against its threshold over the last {HISTORY_HOURS:g} h and the "
               "plan ahead, each charge point's power against its rating and its status on chain (SC2).")
    cab_ids = [c.id for c in site.cabinets]
    shown = st.multiselect("Cabinets", cab_ids, default=cab_ids, key="cockpit_cabinets")
    live(tuple(c for c in cab_ids if c in shown))
    st.subheader("Threshold")
    st.caption("Written to the asset registry (SC1) first; a threshold the chain refuses is not saved. "
               "Current thresholds are in the table above.")
    threshold_form(site)


auth.gate()  # CPO only
main()
