"""The site drawn for pydeck, offline: deck area, groups, cables, assets by kind and status.

A UI helper module (not a page): ``build_deck`` gives a ``pdk.Deck`` with ``map_provider=None``
(no basemap is fetched); ``fit_view`` the top-down view that fits the site; ``legend_html``
the legend shown beside the map; ``pixel_of`` where a point lands on the canvas (tests click it).
"""

from __future__ import annotations

import math

import pydeck as pdk

from engine.ledger import Status
from engine.site.model import AssetKind, Site
from pages import ui

KIND_STYLE = {  # kind -> (fill colour, shape, legend text)
    AssetKind.PV_INVERTER: ((250, 190, 20), "square", "PV inverter (yellow square)"),
    AssetKind.BATTERY: ((120, 200, 80), "hexagon", "stationary battery (green hexagon)"),
    AssetKind.OTHER_LOAD: ((170, 90, 200), "triangle", "other load (purple triangle)"),
}
CABINET_COLOUR = (60, 60, 70)


def _shape(lat: float, lon: float, shape: str, r_m: float) -> list[list[float]]:
    """Polygon of ``shape`` with radius ``r_m`` [m] around (lat, lon), as [lon, lat] rings."""
    n, rot = {"square": (4, 45), "hexagon": (6, 0), "triangle": (3, 90)}[shape]
    mlat = 1 / 111_320.0
    mlon = 1 / (111_320.0 * math.cos(math.radians(lat)))
    pts = []
    for k in range(n):
        a = math.radians(rot + 360.0 * k / n)
        pts.append([lon + r_m * math.cos(a) * mlon, lat + r_m * math.sin(a) * mlat])
    return pts


def _box(points: list[tuple[float, float]], pad_m: float) -> list[list[float]]:
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    plat = pad_m / 111_320.0
    plon = pad_m / (111_320.0 * math.cos(math.radians(lats[0])))
    a, b, c, d = min(lats) - plat, max(lats) + plat, min(lons) - plon, max(lons) + plon
    return [[c, a], [d, a], [d, b], [c, b]]


def _cabinet_colour(i: int) -> list[int]:
    palette = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
               (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
    return list(palette[i % len(palette)])


def build_deck(site: Site, cabinets: list[str], statuses: dict[str, Status], selected: str | None) -> pdk.Deck:
    """The offline deck: deck area, cabinet groups, cables, assets by kind/status, labels."""
    groups = [g for g in site.groups() if g.cabinet.id in cabinets]
    all_pts = [(a.lat, a.lon) for a in site.assets] + [(c.lat, c.lon) for c in site.cabinets]
    deck_area = [{"polygon": _box(all_pts, 9.0)}]
    areas, cables, cps, shapes, labels = [], [], [], [], []
    cab_index = {c.id: i for i, c in enumerate(site.cabinets)}
    for g in groups:
        c = g.cabinet
        col = _cabinet_colour(cab_index[c.id])
        members = [*g.charge_points, *g.pv_inverters, *g.batteries, *g.loads]
        pts = [(a.lat, a.lon) for a in members] + [(c.lat, c.lon)]
        areas.append({"polygon": _box(pts, 2.2), "id": c.id, "label": f"cabinet {c.id}",
                      "fill": col + [40], "line": col + [200]})
        shapes.append({"polygon": _shape(c.lat, c.lon, "square", 1.6), "id": c.id,
                       "label": f"cabinet {c.id}: {c.threshold_kw:g} kW threshold", "fill": list(CABINET_COLOUR) + [255]})
        labels.append({"position": [c.lon, c.lat], "text": c.id, "size": 13, "color": [20, 20, 20, 255],
                       "offset": [0, -18]})
        for a in members:
            cables.append({"source": [c.lon, c.lat], "target": [a.lon, a.lat], "color": col + [170]})
            if a.kind == AssetKind.CHARGE_POINT:
                st_ = statuses.get(a.id, Status.AVAILABLE)
                cps.append({"position": [a.lon, a.lat], "id": a.id, "color": list(ui.STATUS_COLORS[st_]) + [255],
                            "label": f"charge point {a.id}: {ui.status_label(st_)}, {a.rated_kw:g} kW",
                            "line": [255, 220, 0, 255] if a.id == selected else [255, 255, 255, 255],
                            "width": 0.9 if a.id == selected else 0.25})
                labels.append({"position": [a.lon, a.lat], "text": a.id.replace("CA-", ""), "size": 9,
                               "color": [40, 40, 40, 255], "offset": [0, 14]})
            else:
                colour, shape, _ = KIND_STYLE[a.kind]
                shapes.append({"polygon": _shape(a.lat, a.lon, shape, 1.5), "id": a.id,
                               "label": f"{a.kind.label} {a.id}: {a.rated_kw:g} kW", "fill": list(colour) + [255]})
                labels.append({"position": [a.lon, a.lat], "text": a.id, "size": 11, "color": [40, 40, 40, 255],
                               "offset": [0, 16]})
    layers = [
        pdk.Layer("PolygonLayer", deck_area, id="deck", get_polygon="polygon", get_fill_color=[225, 225, 220, 255],
                  get_line_color=[150, 150, 150, 255], get_line_width=0.3, line_width_min_pixels=1,
                  pickable=False),
        pdk.Layer("PolygonLayer", areas, id="groups", get_polygon="polygon", get_fill_color="fill",
                  get_line_color="line", get_line_width=0.35, line_width_min_pixels=1, pickable=False),
        pdk.Layer("LineLayer", cables, id="cables", get_source_position="source", get_target_position="target",
                  get_color="color", get_width=2, pickable=False),
        pdk.Layer("PolygonLayer", shapes, id="equipment", get_polygon="polygon", get_fill_color="fill",
                  get_line_color=[255, 255, 255, 255], get_line_width=0.15, line_width_min_pixels=1,
                  pickable=True),
        pdk.Layer("ScatterplotLayer", cps, id="charge_points", get_position="position", get_fill_color="color",
                  get_line_color="line", get_line_width="width", line_width_units="'meters'", stroked=True,
                  get_radius=1.1, radius_units="'meters'", radius_min_pixels=4, pickable=True),
        pdk.Layer("TextLayer", labels, id="labels", get_position="position", get_text="text", get_size="size",
                  get_color="color", get_pixel_offset="offset", pickable=False),
    ]
    view = fit_view(all_pts)
    return pdk.Deck(layers=layers, initial_view_state=view, map_provider=None,
                    tooltip={"text": "{label}"})


def fit_view(points: list[tuple[float, float]], height_px: int = 600, width_px: int = 640) -> pdk.ViewState:
    """A top-down view centred on ``points`` (lat, lon) and zoomed so they fit the canvas."""
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    lat0, lon0 = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
    h_m = (max(lats) - min(lats)) * 111_320 + 8.0
    w_m = (max(lons) - min(lons)) * 111_320 * math.cos(math.radians(lat0)) + 8.0
    m_per_px = max(h_m / height_px, w_m / width_px)
    zoom = math.log2(78_271.52 * math.cos(math.radians(lat0)) / m_per_px)
    return pdk.ViewState(latitude=lat0, longitude=lon0, zoom=round(min(zoom, 21.0), 2), pitch=0, bearing=0)


def legend_html() -> str:
    rows = []
    for s in (Status.AVAILABLE, Status.PREPARING, Status.CHARGING, Status.SUSPENDED_EVSE, Status.FINISHING,
              Status.UNAVAILABLE, Status.FAULTED):
        r, g, b = ui.STATUS_COLORS[s]
        rows.append(f"<div><span style='display:inline-block;width:12px;height:12px;border-radius:6px;"
                    f"background:rgb({r},{g},{b});margin-right:6px'></span>charge point: {ui.status_label(s)}</div>")
    for colour, shape, text in KIND_STYLE.values():
        r, g, b = colour
        css = {"square": "", "hexagon": "clip-path:polygon(25% 0,75% 0,100% 50%,75% 100%,25% 100%,0 50%);",
               "triangle": "clip-path:polygon(50% 0,100% 100%,0 100%);"}[shape]
        rows.append(f"<div><span style='display:inline-block;width:12px;height:12px;background:rgb({r},{g},{b});"
                    f"{css}margin-right:6px'></span>{text}</div>")
    r, g, b = CABINET_COLOUR
    rows.append(f"<div><span style='display:inline-block;width:12px;height:12px;background:rgb({r},{g},{b});"
                f"margin-right:6px'></span>cabinet (tinted area: its group; lines: its cables)</div>")
    return "<div style='font-size:0.85rem;line-height:1.7'>" + "".join(rows) + "</div>"


def pixel_of(view: pdk.ViewState, lat: float, lon: float, width_px: float, height_px: float) -> tuple[float, float]:
    """Canvas pixel (x, y) of (lat, lon) in a top-down web-mercator ``view`` (512-px world tiles)."""
    world = 512.0 * 2 ** view.zoom

    def merc(la: float, lo: float) -> tuple[float, float]:
        x = (lo + 180.0) / 360.0 * world
        y = (1 - math.log(math.tan(math.pi / 4 + math.radians(la) / 2)) / math.pi) / 2 * world
        return x, y

    cx, cy = merc(view.latitude, view.longitude)
    px, py = merc(lat, lon)
    return width_px / 2 + px - cx, height_px / 2 + py - cy
