"""CPO site map: the garage deck drawn offline, asset details, groups table and edits (UI only)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine.ledger import LedgerError, Status
from engine.site.model import Asset, AssetKind, Site, SiteError
from engine.site.to_scenario import cabinet_spec, group_table
from pages import auth, ui
from pages.deck import build_deck, legend_html


def _group_day_chart(site: Site, cabinet_id: str) -> None:
    """Today's threshold, PV and other load of a group, as the engine sees them (15-min steps)."""
    day = ui.now().replace(hour=0, minute=0, second=0, microsecond=0)
    spec = cabinet_spec(site.group(cabinet_id),
                        start=day, horizon_steps=96, step_minutes=15)
    times = [day + timedelta(minutes=15 * k) for k in range(96)]
    pv, load = np.asarray(spec.pv_kw, float), np.asarray(spec.other_load_kw, float)
    room = float(spec.threshold_kw) - load + pv
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=times, y=[spec.threshold_kw] * 96, name="threshold [kW]", line={"dash": "dash"}))
    fig.add_trace(go.Scatter(x=times, y=pv, name="PV [kW]", fill="tozeroy"))
    fig.add_trace(go.Scatter(x=times, y=load, name="other load [kW]"))
    fig.add_trace(go.Scatter(x=times, y=room, name="room for EVs without battery [kW]"))
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": -0.3},
                      title=f"{cabinet_id} today, as the engine sees it", yaxis={"title": "kW"})
    st.plotly_chart(fig, key=f"group_day_{cabinet_id}")


def asset_details(site: Site, asset_id: str) -> None:
    """Rating, cabinet, registration and last status on chain of one asset or cabinet."""
    ch = ui.chain()
    if any(c.id == asset_id for c in site.cabinets):
        c = site.cabinet(asset_id)
        g = site.group(asset_id)
        st.markdown(f"**Cabinet {c.id}** - {c.name}")
        st.markdown(f"Threshold **{c.threshold_kw:g} kW**; {len(g.charge_points)} charge points, "
                    f"PV {g.pv_kwp:g} kWp, battery {g.battery_kwh:g} kWh, other load {g.other_load_kw:g} kW")
        _group_day_chart(site, c.id)
        return
    a = site.asset(asset_id)
    st.markdown(f"**{a.kind.label.capitalize()} {a.id}** - {a.name}")
    facts = {"kind": a.kind.label, "cabinet": a.cabinet, "rated power [kW]": f"{a.rated_kw:g}",
             "location": f"{a.lat:.6f}, {a.lon:.6f}"}
    if a.kind == AssetKind.CHARGE_POINT:
        facts["price [USD/kWh]"] = f"{a.price_per_kwh:g}"
        now = ui.now()
        s = ui.kiosk().session_on(a.id)
        if s is not None:
            p = ui.kiosk().progress(s.id, now)
            facts["kiosk session"] = (f"{p.delivered_kwh:.1f} kWh metered, {s.guaranteed_kwh:.1f} kWh promised "
                                      f"until {s.departure:%H:%M}, {p.power_kw:.1f} kW now")
    if a.kind == AssetKind.BATTERY:
        facts["capacity [kWh]"] = f"{a.capacity_kwh:g}"
        facts["efficiency / min SOC / initial SOC"] = f"{a.efficiency:g} / {a.min_soc:g} / {a.initial_soc:g}"
    if a.profile:
        facts["profile"] = a.profile
    if ch.ledger is not None:
        reg = ch.registration(a.id)
        if reg is not None:
            facts["asset key (SC1)"] = reg.key
            facts["registered in tx"] = f"{reg.tx_hash} (block {reg.block})"
        else:
            facts.setdefault("registration", "being written to SC1 (the site is syncing)" if ch.syncing
                             else "not on chain")
        rep = ui.chain_status(a.id)
        facts["last status on chain"] = ("none yet (Available)" if rep is None else
                                         f"{ui.status_label(rep.status)}, {rep.power_kw:g} kW, {rep.energy_kwh:g} kWh")
    else:
        facts["chain"] = ch.mode
    st.table(pd.DataFrame({"": list(facts.keys()), "value": [str(v) for v in facts.values()]}).set_index(""))


def _apply(action: str, edit, call) -> None:
    """Validate an edit, write it to SC1 and save it (the chain service does both or neither)."""
    try:
        new, res = ui.chain().apply_edit(ui.site_store(), edit, action, call)
    except SiteError as exc:
        st.error(f"Not saved - {exc}")
        return
    except LedgerError as exc:
        st.error(f"Not saved - the chain refused {action}: {exc.reason or exc}")
        return
    ui.runtime().replan()
    if res.state == "written":
        msg = ("success", f"Saved and written to SC1 ({action}): tx `{res.tx_hash}`")
    elif res.state == "pending":
        msg = ("warning", f"Saved; the chain does not answer ({res.detail}): {action} is pending and will be "
                          "written when it answers.")
    else:
        msg = ("info", "Saved. Chain off: not written on chain.")
    st.session_state["edit_msg"] = msg
    st.rerun()  # the map, the groups table and the forms show the saved site


def edits(site: Site) -> None:
    cab_ids = [c.id for c in site.cabinets]
    asset_ids = [a.id for a in site.assets]
    msg = st.session_state.pop("edit_msg", None)
    if msg:
        getattr(st, msg[0])(msg[1])
    t_add, t_move, t_wire, t_thr = st.tabs(["Add an asset", "Move an asset", "Re-wire to a cabinet", "Threshold"])
    with t_add, st.form("add_asset"):
        c1, c2, c3 = st.columns(3)
        aid = c1.text_input("Asset id", key="add_id")
        name = c1.text_input("Name", key="add_name")
        kind = c2.selectbox("Kind", [k.name.lower() for k in AssetKind], key="add_kind")
        cab = c2.selectbox("Cabinet", cab_ids, key="add_cabinet")
        rated = c3.number_input("Rated power [kW]", value=6.656, key="add_rated", format="%.3f")
        cap = c3.number_input("Capacity [kWh] (battery)", value=0.0, key="add_capacity")
        price = c3.number_input("Price [USD/kWh] (charge point)", value=0.0, key="add_price", format="%.3f")
        c4, c5 = st.columns(2)
        lat = c4.number_input("Latitude", value=site.lat, format="%.6f", key="add_lat")
        lon = c5.number_input("Longitude", value=site.lon, format="%.6f", key="add_lon")
        if st.form_submit_button("Add asset"):
            def edit(s: Site) -> Site:
                if not aid.strip():
                    raise SiteError("id", "must be a non-empty string")
                k = AssetKind.parse(kind, "kind")
                return s.with_asset(Asset(id=aid.strip(), name=name.strip() or aid.strip(), kind=k, cabinet=cab,
                                          lat=lat, lon=lon, rated_kw=rated, capacity_kwh=cap, price_per_kwh=price,
                                          profile={AssetKind.PV_INVERTER: "pv_citylearn"}.get(k, "")))
            if aid.strip() in asset_ids:
                st.error(f"Not saved - id: duplicate id {aid.strip()!r}")
            else:
                _apply("register_asset", edit, lambda led, new: led.register_asset(new.asset(aid.strip())))
    with t_move:
        # the asset is picked outside the form, so its coordinates show as soon as it is picked
        mid = st.selectbox("Asset", asset_ids, key="move_id")
        cur = site.asset(mid) if mid in asset_ids else site.assets[0]
        with st.form("move_asset"):
            c2, c3 = st.columns(2)
            lat = c2.number_input("Latitude", value=cur.lat, format="%.6f", key=f"move_lat_{cur.id}")
            lon = c3.number_input("Longitude", value=cur.lon, format="%.6f", key=f"move_lon_{cur.id}")
            if st.form_submit_button("Move asset"):
                _apply("move_asset", lambda s: s.with_asset_moved(mid, lat=lat, lon=lon),
                       lambda led, new: led.move_asset(new.asset(mid)))
    with t_wire, st.form("rewire_asset"):
        c1, c2 = st.columns(2)
        wid = c1.selectbox("Asset", asset_ids, key="wire_id")
        wcab = c2.selectbox("New cabinet", cab_ids, key="wire_cabinet")
        if st.form_submit_button("Re-wire asset"):
            _apply("move_asset", lambda s: s.with_asset_moved(wid, cabinet=wcab),
                   lambda led, new: led.move_asset(new.asset(wid)))
    with t_thr, st.form("threshold"):
        c1, c2 = st.columns(2)
        tcab = c1.selectbox("Cabinet", cab_ids, key="thr_cabinet")
        cur_kw = site.cabinet(tcab).threshold_kw if tcab in cab_ids else 0.0
        kw = c2.number_input("Threshold [kW]", value=float(cur_kw), key="thr_kw", format="%.2f")
        if st.form_submit_button("Set threshold"):
            _apply("set_threshold", lambda s: s.with_threshold(tcab, kw),
                   lambda led, new: led.set_threshold(tcab, new.cabinet(tcab).threshold_kw))


def _on_map_select() -> None:
    ev = st.session_state.get("site_deck")
    objs = (ev or {}).get("selection", {}).get("objects", {}) if isinstance(ev, dict) else {}
    try:
        objs = dict(ev.selection.objects)  # type: ignore[union-attr]
    except AttributeError:
        pass
    for layer in ("charge_points", "equipment"):
        for o in objs.get(layer, []) or []:
            if o.get("id"):
                st.session_state["asset_pick"] = o["id"]
                return


MAP_REFRESH_SECONDS = 5


@st.fragment(run_every=MAP_REFRESH_SECONDS)
def _live_deck(site: Site, shown: list[str], pick: str | None) -> None:
    """The deck coloured by the charge points' statuses now, redrawn on its own (edits stay outside)."""
    statuses: dict[str, Status] = {cp: r.status for cp, r in ui.runtime().readings.items()}
    deck = build_deck(site, shown, statuses, pick)
    st.pydeck_chart(deck, on_select=_on_map_select, selection_mode="single-object", key="site_deck", height=620)
    if st.session_state.get("asset_pick") != pick:
        st.rerun()  # a click on the map picked an asset: the whole page shows it


def main() -> None:
    store = ui.site_store()
    site = store.site()
    st.title("Site map")
    st.caption(f"{site.name}: {len(site.cabinets)} cabinets, {len(site.charge_points)} charge points, "
               f"{len(site.assets) - len(site.charge_points)} other assets. Click an asset on the map or pick it below.")
    cab_ids = [c.id for c in site.cabinets]
    shown = st.multiselect("Filter by cabinet", cab_ids, default=cab_ids, key="cab_filter")
    ids = [c.id for c in site.cabinets if c.id in shown] + [a.id for a in site.assets if a.cabinet in shown]
    if st.session_state.get("asset_pick") not in ids:
        st.session_state.pop("asset_pick", None)
    map_col, side = st.columns([3, 1])
    with map_col:
        _live_deck(site, shown, st.session_state.get("asset_pick"))
    with side:
        st.markdown("**Legend**")
        st.markdown(legend_html(), unsafe_allow_html=True)
        pick = st.selectbox("Asset", ids, index=None, placeholder="pick an asset or cabinet", key="asset_pick")
    if pick:
        st.subheader(f"Selected: {pick}")
        asset_details(site, pick)
    st.subheader("Groups")
    st.caption("Each cabinet with its members is one group the engine schedules on its own.")
    st.dataframe(pd.DataFrame(group_table(site)), hide_index=True, width="stretch", key="groups_table")
    st.subheader("Edit the site")
    st.caption("Each edit is validated, saved to the state folder and written to the asset registry (SC1).")
    edits(site)


auth.gate()  # CPO only (pages/auth.py)
main()
