"""Driver kiosk at a charge point (``/kiosk?cp=CA-303``): need in, answer out, then progress (UI only)."""

from __future__ import annotations

from datetime import datetime, timedelta

import plotly.graph_objects as go
import streamlit as st

from engine.clock import site_now
from engine.kiosk import KioskError, KioskQuote, departure_at, energy_from_soc
from engine.ledger import LedgerError
from engine.site import AssetKind
from pages import ui


LIVE_SECONDS = 30  # how often the progress view refreshes itself [s]


@st.fragment(run_every=LIVE_SECONDS)
def _live_progress(k, cp: str, session_id: str) -> None:
    """The progress view, refreshed every ``LIVE_SECONDS`` on its own (the rest of the page stays)."""
    now = site_now(k.store.site().timezone)
    active = k.session_on(cp, now)
    if active is None or active.id != session_id:
        st.rerun()  # the session ended: back to the request form
    _progress_view(k, session_id, now)


def _progress_view(k, session_id: str, now: datetime) -> None:
    p = k.progress(session_id, now)
    s = p.session
    st.subheader(f"Charging at {s.cp} until {s.departure:%H:%M}")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Delivered", f"{p.delivered_kwh:.1f} kWh", help="energy delivered so far (engine plan)")
    c2.metric("Promised", f"{s.guaranteed_kwh:.1f} kWh", help=f"you asked for {s.requested_kwh:.1f} kWh")
    c3.metric("State of charge", f"{p.soc_pct:.0f} %" if p.soc_pct is not None else "n/a")
    c4.metric("Power now", f"{p.power_kw:.1f} kW")
    st.caption(f"Status: **{ui.status_label(p.status)}**")
    fig = go.Figure()
    soc = p.soc_curve_pct
    fig.add_trace(go.Scatter(x=p.times, y=p.energy_kwh, mode="lines", name="planned energy [kWh]",
                             line={"shape": "linear", "width": 3}))
    if soc is not None:
        fig.add_trace(go.Scatter(x=p.times, y=soc, mode="lines", name="state of charge [%]", yaxis="y2",
                                 line={"dash": "dot"}))
    fig.add_vline(x=now, line_dash="dash", line_color="gray")
    fig.add_hline(y=s.guaranteed_kwh, line_dash="dot", line_color="green", annotation_text="promised")
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title="Planned charging",
                      yaxis={"title": "energy [kWh]"}, legend={"orientation": "h"},
                      yaxis2={"title": "SOC [%]", "overlaying": "y", "side": "right", "range": [0, 100]})
    st.plotly_chart(fig, key="progress_chart")
    st.caption(f"Updates every {LIVE_SECONDS} s (site clock {now:%H:%M:%S}).")
    st.button("Refresh", key="refresh")


def _answer(q: KioskQuote) -> None:
    if q.feasible:
        st.success(f"Yes: your {q.energy_kwh:.1f} kWh will be delivered by {q.departure:%H:%M}.")
    else:
        msg = (f"Only {q.max_kwh:.1f} kWh of your {q.energy_kwh:.1f} kWh can be delivered by {q.departure:%H:%M}.")
        if q.earliest_departure is not None:
            day = "" if q.earliest_departure.date() == q.now.date() else " tomorrow"
            msg += f" Stay until {q.earliest_departure:%H:%M}{day} for all of it."
        else:
            msg += " All of it cannot be delivered within the next 24 hours."
        st.warning(msg)


def _request_form(k, cp: str, now: datetime) -> None:
    st.subheader(f"Charge point {cp}")
    st.caption(f"Site clock {now:%H:%M}. Tell us when you leave and how much you need.")
    default_dep = (now + timedelta(hours=3)).replace(minute=0, second=0).time()
    how = st.radio("Your need", ["Energy (kWh)", "Battery and state of charge"], horizontal=True, key="how")
    by_soc = how != "Energy (kWh)"
    with st.form("need"):
        dep_time = st.time_input("Departure time", value=default_dep, step=900, key="dep_time")
        if by_soc:
            c2, c3, c4 = st.columns(3)
            battery = c2.number_input("Battery size [kWh]", value=60.0, step=1.0, key="battery_kwh")
            soc_now = c3.number_input("SOC now [%]", value=30.0, step=5.0, key="soc_now")
            soc_want = c4.number_input("SOC wanted [%]", value=80.0, step=5.0, key="soc_target")
        else:
            energy = st.number_input("Energy [kWh]", value=20.0, step=1.0, key="energy_kwh")
        asked = st.form_submit_button("Can my need be met?", type="primary")
    if asked:
        st.session_state.pop("quote", None)
        try:
            need = {"battery_kwh": None, "soc_now_pct": None, "soc_target_pct": None}
            if not by_soc:
                kwh = energy
            else:
                kwh = energy_from_soc(battery, soc_now, soc_want)
                need = {"battery_kwh": battery, "soc_now_pct": soc_now, "soc_target_pct": soc_want}
            departure = departure_at(now, dep_time)
            with st.spinner("Asking the scheduler..."):
                q = k.quote(cp, departure, kwh, now)
            st.session_state["quote"] = (q, need)
        except KioskError as exc:
            st.error(str(exc))
    stored = st.session_state.get("quote")
    if stored and stored[0].cp == cp:
        q, need = stored
        _answer(q)
        st.caption(f"Quote computed in {q.solve_seconds * 1000:.0f} ms for cabinet {q.cabinet}.")
        label = "Confirm and start charging" if q.feasible else f"Confirm: charge {q.max_kwh:.1f} kWh by {q.departure:%H:%M}"
        if q.max_kwh > 1e-6 and st.button(label, key="confirm", type="primary"):
            try:
                with st.spinner("Booking and planning..."):
                    s, _, reports = k.book(cp, q.departure, q.energy_kwh, site_now(k.store.site().timezone), **need)
            except KioskError as exc:
                st.error(str(exc))
                return
            st.session_state.pop("quote", None)
            st.session_state["booked"] = s.id
            try:
                receipts = ui.post_statuses(reports)
                if receipts:
                    st.session_state["booked_tx"] = receipts[-1].tx_hash
            except LedgerError as exc:
                st.session_state["booked_tx"] = f"status not posted: {exc.reason or exc}"
            st.rerun()


def main() -> None:
    store = ui.site_store()
    site = store.site()
    k = ui.kiosk()
    st.title("EV charging kiosk")
    cp = st.query_params.get("cp")
    cps = [a.id for a in site.charge_points]
    if not cp:
        cp = st.selectbox("Charge point", cps, index=None, placeholder="pick your charge point", key="kiosk_cp")
        if not cp:
            st.info("Pick the charge point your car is plugged into (its id is on the pole).")
            return
    try:
        asset = site.asset(cp)
        if asset.kind != AssetKind.CHARGE_POINT:
            raise KeyError(cp)
    except KeyError:
        st.error(f"cp: unknown charge point {cp!r}")
        return
    ui.ensure_synced(site)
    now = site_now(site.timezone)
    if "booked_tx" in st.session_state:
        st.success(f"Booked. Status posted on chain: `{st.session_state.pop('booked_tx')}`")
    ui.refresh_statuses(k, now)
    active = k.session_on(cp, now)
    if active is not None:
        _live_progress(k, cp, active.id)
    else:
        _request_form(k, cp, now)


main()
