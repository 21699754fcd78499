"""``/site_map``, the site map's former address, on a server app.py has not run on yet (UI only).

Until app.py first runs, streamlit serves ``/<name>`` from ``pages/<name>.py`` and shows its
"Page not found" dialog for any other address (docs/cockpit.md). The site map's file is
``pages/map.py``, after its address ``/map``; this file keeps ``/site_map`` free of that dialog:
the gate sends the request through app.py, which serves ``/site_map`` as an alias of
``pages/map.py`` (signed in or not, nothing is drawn here). app.py never registers this file.
"""

from pages import auth

auth.gate()  # leaves streamlit's pages-folder routing: the request re-runs through app.py
