"""EV smart-charging cockpit: the st.navigation router and the shared CPO sidebar.

``streamlit run app.py``. Pages: Site map and Cockpit (CPO, the map by default), Kiosk
(driver), Replay (analyst). A kiosk URL (``/kiosk?cp=CA-303``) registers the kiosk page alone,
hidden navigation and no CPO sidebar: a driver cannot reach the CPO pages from it.

CPO sign-in (``pages/auth.py``): every page but the kiosk shows only the sign-in form until the
browser session signs in with ``EV_CPO_PASSWORD`` (or the hash ``cpo_password_sha256`` in
``.streamlit/secrets.toml``, or the one-time token printed to the console when neither is set);
the navigation and the CPO sidebar appear once signed in.

Clock: the sidebar shows the site's local time (real time in the site's time zone, or the fixed
time in ``EV_NOW``, see ``engine.runtime.clock``). Chain: ``CHAIN_RPC_URL`` (empty: embedded eth-tester
chain, synced with the site on first use); ``EV_CHAIN=off`` runs without a chain.
"""

from pathlib import Path

import streamlit as st

from pages import auth, ui

HERE = Path(__file__).resolve().parent
kiosk_mode = bool(st.query_params.get("cp"))
st.set_page_config(page_title="EV charging kiosk" if kiosk_mode else "EV charging cockpit",
                   layout="centered" if kiosk_mode else "wide",
                   initial_sidebar_state="collapsed" if kiosk_mode else "auto")

kiosk_page = st.Page("pages/kiosk.py", title="Kiosk", url_path="kiosk")
if kiosk_mode:
    # The kiosk page alone: no navigation and no CPO sidebar (.streamlit/config.toml turns
    # streamlit's automatic page list off, so nothing lists the CPO pages).
    # The same kiosk script at the root (the default page is served at "/") and at /kiosk, so
    # that /kiosk?cp=... resolves without streamlit's "page not found" dialog.
    root = st.Page("pages/kiosk.py", title="Kiosk", url_path="kiosk_root", default=True)
    page = st.navigation([root, kiosk_page], position="hidden")
else:
    sections = {
        "CPO": [st.Page("pages/map.py", title="Site map", url_path="home", default=True),
                st.Page("pages/cockpit.py", title="Cockpit", url_path="cockpit")],
        "Driver": [kiosk_page],
    }
    if (HERE / "pages" / "replay.py").exists():
        sections["Analyst"] = [st.Page("pages/replay.py", title="Replay", url_path="replay")]
    # the default page is served at "/" whatever its url_path (streamlit), so /map and /site_map
    # are aliases of their own. The file is named after its address: until app.py first runs,
    # streamlit routes a request by the file names of pages/ (docs/cockpit.md), and /map is then
    # pages/map.py.
    aliases = [st.Page("pages/map.py", title="Site map", url_path=u) for u in ("map", "site_map")]
    page = st.navigation({**sections, "": aliases}, position="hidden")
    if page.url_path != kiosk_page.url_path and not auth.require_cpo():
        st.stop()  # a CPO page: the sign-in form only, no site data
    if auth.signed_in():
        ui.cpo_nav(sections)
        ui.cpo_sidebar(ui.site_store().site())
        auth.sign_out_button()
page.run()
