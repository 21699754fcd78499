"""Where the live site lives: ``EV_STATE_DIR/site.json`` if present, else the shipped sample.

Every edit the CPO makes is saved atomically to the state folder (``engine.site.save_site``),
so a crash or restart never loses or half-writes an edit, and the groups the engine solves are
always derived from the saved file. A saved file that went bad (truncated, edited by hand) is
never served: the last good copy is, and :attr:`SiteStore.problem` says so.
"""

from __future__ import annotations

import fcntl
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from engine.files import REPO_ROOT, atomic_write_bytes, atomic_write_text, state_dir
from engine.site.model import Site, SiteError, load_site, save_site, site_json

__all__ = ["DEFAULT_SITE", "SiteStore"]

DEFAULT_SITE = REPO_ROOT / "data" / "site.json"


class SiteStore:
    """Thread-safe access to the live site, which never fails because the saved file went bad.

    The live site is ``<folder>/site.json`` once the CPO has saved an edit, else the shipped
    sample. Every site read is validated (:func:`engine.site.load_site`); after each good read
    or save a copy is kept as ``site.json.good``. When ``site.json`` cannot be used (truncated,
    malformed, a bad field such as an unknown ``timezone`` or PV ``profile``), the store keeps
    serving the last good copy (or, without one, the shipped sample), keeps the bad file as
    ``site.json.bad`` and says what went wrong in :attr:`problem` so the app can tell the CPO.
    The next saved edit replaces the bad file.

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
        self._held = 0  # depth of editing() in the thread holding _lock
        self._cache: tuple[tuple[int, int, int] | None, Site] | None = None
        self._problem: str | None = None

    @property
    def path(self) -> Path:
        """The saved site file (``<state>/site.json``)."""
        return self.folder / "site.json"

    @property
    def good_path(self) -> Path:
        """The copy of the last site read or saved without a fault (``<state>/site.json.good``)."""
        return self.folder / "site.json.good"

    @property
    def bad_path(self) -> Path:
        """Where an unusable ``site.json`` is kept for the CPO to look at (``<state>/site.json.bad``)."""
        return self.folder / "site.json.bad"

    @property
    def edited(self) -> bool:
        """Whether the CPO has saved edits (the site no longer is the shipped sample)."""
        return self.path.exists()

    @property
    def problem(self) -> str | None:
        """What is wrong with the saved site file, and which site is used instead; ``None`` when all is well.

        For example ``"state/site.json cannot be used (timezone: unknown time zone 'Mars/Base');
        using the last good copy (site.json.good); the bad file is kept as site.json.bad"``.
        """
        with self._lock:
            self.site()
            return self._problem

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def site(self) -> Site:
        """The current site (re-read when the file changed on disk; never the unusable file)."""
        with self._lock:
            stamp = self._stamp()
            if self._cache is None or self._cache[0] != stamp:
                self._cache = (stamp, self._load(stamp is not None))
            return self._cache[1]

    def _load(self, saved: bool) -> Site:
        if not saved:
            self._problem = None
            return load_site(self.default)
        try:
            site = load_site(self.path)
        except SiteError as exc:
            return self._fall_back(exc)
        self._problem = None
        self._keep_good(site)
        return site

    def _keep_good(self, site: Site) -> None:
        text = site_json(site)
        try:
            if self.good_path.read_text(encoding="utf-8") == text:
                return
        except (OSError, UnicodeDecodeError):
            pass
        atomic_write_text(self.good_path, text)

    def _fall_back(self, exc: SiteError) -> Site:
        try:
            bad = self.path.read_bytes()
            if not self.bad_path.exists() or self.bad_path.read_bytes() != bad:
                atomic_write_bytes(self.bad_path, bad)
            kept = f"; the bad file is kept as {self.bad_path.name}"
        except OSError:
            kept = ""
        used = f"the shipped site ({self.default.name})"
        site = None
        if self.good_path.exists():
            try:
                site = load_site(self.good_path)
                used = f"the last good copy ({self.good_path.name})"
            except SiteError:
                site = None
        if site is None:
            site = load_site(self.default)
        self._problem = f"{self.path} cannot be used ({' '.join(str(exc).split())}); using {used}{kept}"
        return site

    def save(self, site: Site) -> None:
        """Save ``site`` atomically as the live site (and as the last good copy)."""
        with self._lock:
            save_site(site, self.path)
            self._keep_good(site)
            self._cache = None

    @contextmanager
    def editing(self) -> Iterator[Site]:
        """Hold the site for a read-edit-save; yields the current site.

        Threads of this process and other processes on the same state folder (an exclusive
        ``flock`` on ``<state>/site.lock``) wait for each other, so two edits made at once, of
        different cabinets say, are both kept. Re-entrant within a thread.
        """
        with self._lock:
            if self._held:
                self._held += 1
                try:
                    yield self.site()
                finally:
                    self._held -= 1
                return
            with open(self.folder / "site.lock", "a+b") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
                self._held = 1
                try:
                    yield self.site()  # read under the lock: another process's save is seen
                finally:
                    self._held = 0

    def update(self, edit: Callable[[Site], Site]) -> tuple[Site, Site]:
        """Apply ``edit`` to the current site and save the result, atomically under :meth:`editing`.

        Returns
        -------
        (old, new) : tuple of Site
            The site before and after the edit. ``edit`` raising (e.g. SiteError) saves nothing.
        """
        with self.editing():
            old = self.site()
            new = edit(old)
            self.save(new)
            return old, new

    def reset(self) -> None:
        """Forget the edits: back to the shipped sample site."""
        with self._lock:
            self.path.unlink(missing_ok=True)
            self.good_path.unlink(missing_ok=True)
            self._cache = None
            self._problem = None
