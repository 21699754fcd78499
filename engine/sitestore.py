"""Where the live site lives: ``EV_STATE_DIR/site.json`` if present, else the shipped sample.

Every edit the CPO makes is saved atomically to the state folder (``engine.site.save_site``),
so a crash or restart never loses or half-writes an edit, and the groups the engine solves are
always derived from the saved file.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

from engine.site import Site, load_site, save_site

__all__ = ["ROOT", "DEFAULT_SITE", "state_dir", "SiteStore"]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SITE = ROOT / "data" / "site.json"


def state_dir() -> Path:
    """The runtime state folder: env ``EV_STATE_DIR`` (default ``<repo>/state``), created."""
    d = Path(os.environ.get("EV_STATE_DIR") or ROOT / "state")
    d.mkdir(parents=True, exist_ok=True)
    return d


class SiteStore:
    """Thread-safe access to the live site.

    Parameters
    ----------
    folder : Path, optional
        State folder (default :func:`state_dir`).
    default : Path
        The site used until the first edit is saved (default ``data/site.json``).
    """

    def __init__(self, folder: Path | None = None, default: Path = DEFAULT_SITE) -> None:
        self.folder = Path(folder) if folder is not None else state_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.default = Path(default)
        self._lock = threading.RLock()
        self._cache: tuple[Path, float, Site] | None = None

    @property
    def path(self) -> Path:
        """The saved site file (``<state>/site.json``)."""
        return self.folder / "site.json"

    @property
    def edited(self) -> bool:
        """Whether the CPO has saved edits (the site no longer is the shipped sample)."""
        return self.path.exists()

    def site(self) -> Site:
        """The current site (re-read when the file changed on disk)."""
        with self._lock:
            src = self.path if self.path.exists() else self.default
            mtime = src.stat().st_mtime_ns
            if self._cache is None or self._cache[0] != src or self._cache[1] != mtime:
                self._cache = (src, mtime, load_site(src))
            return self._cache[2]

    def save(self, site: Site) -> None:
        """Save ``site`` atomically as the live site."""
        with self._lock:
            save_site(site, self.path)
            self._cache = None

    def update(self, edit: Callable[[Site], Site]) -> tuple[Site, Site]:
        """Apply ``edit`` to the current site and save the result, atomically under the lock.

        Returns
        -------
        (old, new) : tuple of Site
            The site before and after the edit. ``edit`` raising (e.g. SiteError) saves nothing.
        """
        with self._lock:
            old = self.site()
            new = edit(old)
            self.save(new)
            return old, new

    def reset(self) -> None:
        """Forget the edits: back to the shipped sample site."""
        with self._lock:
            self.path.unlink(missing_ok=True)
            self._cache = None
