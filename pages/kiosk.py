"""Driver kiosk at a charge point (``/kiosk?cp=CA-303``): need in, answer out, then the metered
session (UI only: the kiosk service and the site's runtime do the work)."""

from __future__ import annotations

from datetime import datetime, timedelta

import plotly.graph_objects as go
import streamlit as st

from engine.kiosk import (
    ASK_BEYOND_HOURS,
    KioskError,
    KioskQuote,
    QuoteChanged,
    departure_at,
    energy_from_soc,
)
from engine.site.model import AssetKind
from pages import ui

LIVE_SECONDS = 5  # how often the metered view refreshes itself [s]


def kwh(x: float, other: float | None = None) -> str:
    """``x`` in kWh with enough decimals to differ from ``other`` (and to show small amounts)."""
    d = 1 if abs(x) >= 1 else 2
    while other is not None and d < 3 and round(x, d) == round(other, d):
        d += 1
    return f"{x:.{d}f} kWh"


def when(t: datetime, now: datetime) -> str:
    """``17:30``, or ``Tue 17:30`` when not today."""
    return f"{t:%H:%M}" if t.date() == now.date() else f"{t:%a %d %b %H:%M}"


@st.fragment(run_every=LIVE_SECONDS)
def _live_progress(cp: str, session_id: str, *, owner: bool) -> None:
    """The metered view, refreshed every ``LIVE_SECONDS`` on its own (the rest of the page stays).

    Only the browser that started the session (``owner``) is offered **Stop charging**.
    """
    k = ui.kiosk()
    active = k.session_on(cp)
    if active is None or active.id != session_id:
        st.session_state["ended"] = session_id
        st.rerun()  # the session ended: back to the request form
    _progress_view(session_id, ui.now(), owner=owner)


def _progress_view(session_id: str, now: datetime, *, owner: bool) -> None:
    k = ui.kiosk()
    p = k.progress(session_id, now)
    s = p.session
    st.subheader(f"Charging at {s.cp} until {when(s.departure, now)}")
    badge = ":green-badge[On track]" if p.on_track else ":orange-badge[At risk]"
    st.markdown(f"{badge} Status: **{ui.status_label(p.status)}**")
    c1, c2, c3 = st.columns(3)
    c1.metric("Delivered", f"{p.delivered_kwh:.2f} kWh", help="metered at the charge point")
    c2.metric("Guaranteed", kwh(s.guaranteed_kwh), help=f"by {when(s.departure, now)}; you asked for {kwh(s.requested_kwh)}")
    c3.metric("Power now", f"{p.power_kw:.1f} kW", help=f"the charge point is rated {p.rated_kw:g} kW")
    st.progress(min(1.0, p.power_kw / p.rated_kw) if p.rated_kw else 0.0,
                text=ui.power_of_rating(p.power_kw, p.rated_kw))
    c4, c5, c6 = st.columns(3)
    c4.metric("Cost so far", f"{p.cost:.2f} USD", help=f"{p.price_per_kwh:g} USD/kWh")
    c5.metric("Projected by departure", kwh(p.projected_kwh), help="what the plan delivers by your departure")
    c6.metric("Projected finish", when(p.projected_finish, now) if p.projected_finish else "after departure",
              help=f"when the plan reaches the {kwh(s.requested_kwh)} you asked for")
    if p.soc_pct is not None:
        gauge = go.Figure(go.Indicator(mode="gauge+number", value=p.soc_pct, number={"suffix": " %"},
                                       title={"text": "State of charge"},
                                       gauge={"axis": {"range": [0, 100]},
                                              "threshold": {"value": s.soc_target_pct or 100, "line": {"color": "green"}}}))
        gauge.update_layout(height=220, margin={"l": 20, "r": 20, "t": 40, "b": 10})
        st.plotly_chart(gauge, key="soc_gauge")
    fig = go.Figure()
    m = p.metered_points
    fig.add_trace(go.Scatter(x=p.times[:m], y=p.energy_kwh[:m], mode="lines", name="metered [kWh]",
                             line={"width": 3}))
    fig.add_trace(go.Scatter(x=p.times[m - 1:], y=p.energy_kwh[m - 1:], mode="lines", name="plan [kWh]",
                             line={"dash": "dot"}))
    fig.add_hline(y=s.guaranteed_kwh, line_dash="dot", line_color="green", annotation_text="guaranteed")
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title="Energy",
                      yaxis={"title": "kWh"}, legend={"orientation": "h"})
    st.plotly_chart(fig, key="progress_chart")
    st.caption(f"Updates every {LIVE_SECONDS} s (site clock {now:%H:%M:%S}).")
    if not owner:
        st.caption("Stop charging is offered on the screen that started this session.")
    elif st.button("Stop charging", key="stop"):
        ui.runtime().stop_session(s.cp)
        st.rerun()


def _answer(q: KioskQuote) -> None:
    by = when(q.departure, q.now)
    if q.feasible:
        st.success(f"Guaranteed: {kwh(q.energy_kwh)} by {by}.")
        return
    msg = f"Guaranteed {kwh(q.max_kwh, q.energy_kwh)} by {by}"
    if q.likely_kwh is not None and q.likely_kwh > q.max_kwh + 0.05:
        msg += f", more if the site allows (likely about {kwh(q.likely_kwh)})"
    msg += f"; you asked for {kwh(q.energy_kwh)}."
    if q.earliest_departure is not None:
        msg += f" Stay until {when(q.earliest_departure, q.now)} for all of it."
    else:
        msg += " All of it cannot be delivered within the next 24 hours."
    st.warning(msg)


def _request_form(cp: str, now: datetime) -> None:
    k = ui.kiosk()
    st.subheader(f"Charge point {cp}")
    st.caption(f"Site clock {now:%a %H:%M}. Tell us when you leave and how much you need.")
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
                need_kwh = energy
            else:
                need_kwh = energy_from_soc(battery, soc_now, soc_want)
                need = {"battery_kwh": battery, "soc_now_pct": soc_now, "soc_target_pct": soc_want}
            departure = departure_at(now, dep_time)
            with st.spinner("Asking the scheduler..."):
                q = k.quote(cp, departure, need_kwh, now)
            st.session_state["quote"] = (q, need)
        except KioskError as exc:
            st.error(str(exc))
    stored = st.session_state.get("quote")
    if not (stored and stored[0].cp == cp):
        return
    q, need = stored
    far = q.departure - q.now > timedelta(hours=ASK_BEYOND_HOURS)
    if q.departure.date() != q.now.date() or far:
        st.info(f"Your departure is **{q.departure:%A %d %B at %H:%M}**, "
                f"{(q.departure - q.now).total_seconds() / 3600:.1f} h from now.")
    was = st.session_state.pop("quote_changed", None)
    if was is not None:
        st.warning(f"The answer changed before you pressed Start charging ({kwh(was)} could be guaranteed "
                   f"then). The answer now is below: press Start charging again to accept it.")
    _answer(q)
    st.caption(f"Quote computed in {q.solve_seconds * 1000:.0f} ms for cabinet {q.cabinet}.")
    sure = True
    if far:
        sure = st.checkbox(f"Yes, I leave on {q.departure:%A at %H:%M}", key="confirm_far")
    if q.max_kwh > 1e-6 and st.button("Start charging", key="start", type="primary", disabled=not sure):
        try:
            with st.spinner("Booking and planning..."):
                s, _ = k.book(cp, q.departure, q.energy_kwh, ui.now(), accepted_kwh=q.promise_kwh, **need)
        except QuoteChanged as exc:  # nothing booked: show the answer now, to be accepted again
            st.session_state["quote"] = (exc.quote, need)
            st.session_state["quote_changed"] = exc.accepted_kwh
            st.rerun()
        except KioskError as exc:
            st.error(str(exc))
            return
        st.session_state.pop("quote", None)
        st.session_state["booked"] = s.id
        st.rerun()


def main() -> None:
    store = ui.site_store()
    site = store.site()
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
    k = ui.kiosk()
    now = ui.now()
    if st.session_state.pop("ended", None):
        st.info("Your session has ended. Thank you!")
    active = k.session_on(cp)
    if active is not None and active.origin != "charger":
        if st.session_state.get("booked") == active.id:
            _live_progress(cp, active.id, owner=True)
        else:
            # another browser's session (or this driver's, from another screen): its progress,
            # read only, on demand; never its Stop button
            st.subheader(f"Charge point {cp}")
            st.warning(f"{cp} is taken: a session runs there until {when(active.departure, now)}.")
            if st.toggle("It is my car: show its progress", key="mine"):
                _live_progress(cp, active.id, owner=False)
    else:
        _request_form(cp, now)


main()
