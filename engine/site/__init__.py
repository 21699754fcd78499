"""The site: cabinets and their assets, the site file, asset profiles, a group -> a scenario.

Modules: :mod:`~engine.site.model` (``Site``, ``Cabinet``, ``Asset``: validated, read and written),
:mod:`~engine.site.store` (the site file in the state folder, saved atomically),
:mod:`~engine.site.profiles` (PV and load profiles, prices), :mod:`~engine.site.to_scenario`
(one cabinet's group + its sessions -> the engine's ``Scenario``).
"""

from engine.site.model import (
    Asset,
    AssetKind,
    Cabinet,
    Group,
    Site,
    SiteError,
    load_site,
    save_site,
    site_json,
)

__all__ = ["Asset", "AssetKind", "Cabinet", "Group", "Site", "SiteError", "load_site", "save_site", "site_json"]
