"""The ``ocpp`` charger port: :class:`OcppChargers`, the runtime's charge points over OCPP 1.6J.

The central system (:mod:`gateway.ocpp16.csms`) runs on an asyncio event loop in a thread of
its own; the control loop calls :meth:`read`, :meth:`events`, :meth:`apply` and :meth:`stop`
from its thread, each a blocking call that hands a coroutine to that loop and waits for it.

With ``simulate=True`` the same loop also runs the OCPP charge point simulator
(:mod:`gateway.ocpp16.sim`) for all the site's charge points on loopback, on the caller's
clock: :meth:`read` first moves every simulated charge point to ``now`` (each sends its
MeterValues for ``now`` and waits for the central system's answer), so the readings are those
of ``now``. :meth:`plug`, :meth:`unplug`, :meth:`fault` and :meth:`recover` drive the
simulated cars as the runtime's own simulator does, and :meth:`disconnect` / :meth:`reconnect`
/ :meth:`misbehave` exercise the OCPP-specific paths (those are :mod:`gateway.ocpp16.port_sim`).

Registered in :mod:`engine.chargers` as ``"ocpp"``; see docs/ocpp.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable, Sequence
from zoneinfo import ZoneInfo

from engine.chargers import ChargerError, ChargerEvent, ChargerReading, EventKind, Setpoint
from engine.files import state_dir as _state_dir
from engine.ledger import Status
from engine.site.model import Site, load_site
from engine.validate import integer

from .credentials import ensure_passwords
from .csms import CentralSystem
from .port_sim import SimulatedCars
from .sim import Simulator

__all__ = ["OcppChargers", "Connection", "DEFAULT_PORT"]

LOG = logging.getLogger("gateway.ocpp16.port")

DEFAULT_PORT = 9000


@dataclass(frozen=True)
class Connection:
    """A charge point's link, for the cockpit.

    Parameters
    ----------
    cp : str
    connected : bool
    last_message_age_s : float or None
        Wall-clock seconds since its last message (None: never heard from).
    status : Status
    transaction : str or None
    noncompliant : bool
        It drew above its limit and has not complied since.
    unit : str
        The charging rate unit its profiles use (``W`` or ``A``).
    """

    cp: str
    connected: bool
    last_message_age_s: float | None
    status: Status
    transaction: str | None
    noncompliant: bool
    unit: str


def _port_from_env() -> int:
    raw = os.environ.get("EV_OCPP_PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    try:
        p = int(raw)
    except ValueError:
        raise ChargerError("EV_OCPP_PORT", f"must be a port number, got {raw!r}") from None
    return integer(p, "EV_OCPP_PORT", lo=0, hi=65535, error=ChargerError)


class OcppChargers(SimulatedCars):
    """The site's charge points behind an OCPP 1.6J central system (a ``ChargerPort``).

    Parameters
    ----------
    site : Site or str
        The site (or its JSON file); its charge points are the known charge point ids.
    port : int or None
        Where the central system listens; default ``$EV_OCPP_PORT`` or 9000; 0 picks a free
        port (see :attr:`port`).
    host : str or None
        Listening address; default ``$EV_OCPP_HOST`` or ``127.0.0.1`` (loopback). Real charge
        points on a LAN need the address of an interface they reach (or ``0.0.0.0``).
    state_dir : str or Path or None
        State folder (passwords, open transactions); default ``$EV_STATE_DIR`` or ``./state``.
    simulate : bool or None
        Also run simulated OCPP charge points for all the site's charge points on loopback;
        None: ``$EV_OCPP_SIMULATE`` (``1``/``true``/``yes``), else False.
    clock : callable or None
        Site time now; default the wall clock in the site's time zone. A headless day passes
        its stepped clock.
    units : dict or None
        Per charge point ``"W"`` or ``"A"`` for its profiles (default: what it declares).
    sim_units : dict or None
        (simulate) The rate units each simulated charge point declares (``W``, ``A``, ``WA``).
    voltage_v : float or None
        Supply voltage for profiles in amperes [V]; default the site's ``voltage_v`` or 230.
    phases : int
    timeout_s : float
        Longest wait for the event loop or a charge point's answer [s].
    heartbeat_s : int
        Heartbeat interval given to charge points at boot [s].
    default_kw : float or None
        TxDefaultProfile sent at boot: what a new transaction may draw until its first plan
        [kW]; 0 (default) as the runtime's simulator; None sends none.
    command_wait_s : float
        Without simulation, :meth:`apply` and :meth:`stop` return after at most this long
        [s]; slower charge points get their commands in the background.
    **_ignored
        Options of other charger ports (e.g. the simulator's ``state``, ``seed``) are ignored.
    """

    def __init__(
        self,
        site: Site | str | os.PathLike[str],
        *,
        port: int | None = None,
        host: str | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        simulate: bool | None = None,
        clock: Callable[[], datetime] | None = None,
        units: dict[str, str] | None = None,
        sim_units: dict[str, str] | None = None,
        voltage_v: float | None = None,
        phases: int = 1,
        timeout_s: float = 30.0,
        heartbeat_s: int = 300,
        default_kw: float | None = 0.0,
        command_wait_s: float = 5.0,
        **_ignored: Any,
    ):
        if not isinstance(site, Site):
            site = load_site(site)
        if _ignored:
            LOG.info("OcppChargers: ignoring %s", ", ".join(sorted(_ignored)))
        self.site = site
        tz = ZoneInfo(site.timezone)
        self.clock = clock or (lambda: datetime.now(tz))
        self.cp_ids = [a.id for a in site.charge_points]
        for cp, u in (units or {}).items():
            if cp not in self.cp_ids:
                raise ChargerError("units", f"unknown charge point {cp!r}")
            if u not in ("W", "A"):
                raise ChargerError(f"units[{cp}]", f"must be W or A, got {u!r}")
        self.state_dir = _state_dir(state_dir)
        self.passwords = ensure_passwords(self.cp_ids, self.state_dir)
        host = host or os.environ.get("EV_OCPP_HOST", "").strip() or "127.0.0.1"
        self.host = host
        if simulate is None:
            flag = os.environ.get("EV_OCPP_SIMULATE", "").strip().lower()
            if flag not in ("", "0", "1", "true", "false", "yes", "no"):
                raise ChargerError("EV_OCPP_SIMULATE", f"must be 1 or 0, got {flag!r}")
            simulate = flag in ("1", "true", "yes")
        self.simulate = simulate
        self.timeout_s = timeout_s
        self.command_wait_s = command_wait_s
        volts = float(voltage_v or site.extra.get("voltage_v") or 230.0)
        self._events: list[ChargerEvent] = []
        self._events_lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ocpp-csms", daemon=True)
        self._thread.start()
        self._closed = False
        self.csms = CentralSystem(
            self.cp_ids,
            self.passwords,
            clock=self.clock,
            emit=self._emit,
            amend=self._amend,
            default_kw=default_kw,
            host=host,
            port=_port_from_env() if port is None else int(port),
            units=units,
            voltage_v=volts,
            phases=phases,
            heartbeat_s=heartbeat_s,
            response_timeout=timeout_s,
            # simulated charge points live and die with this process: nothing to resume
            state_file=None if simulate else self.state_dir / "ocpp" / "transactions.json",
        )
        self.sim: Simulator | None = None
        try:
            self._run(self.csms.start())
            if simulate:
                self.sim = Simulator(
                    site,
                    f"ws://127.0.0.1:{self.csms.port}" if host in ("0.0.0.0", "127.0.0.1", "") else f"ws://{host}:{self.csms.port}",
                    self.passwords,
                    clock=self.clock,
                    units=sim_units,
                    voltage_v=volts,
                    phases=phases,
                    response_timeout=timeout_s,
                    validate=False,  # the central system validates every frame
                )
                self._run(self._start_sim())
        except BaseException:
            self.close()
            raise

    async def _start_sim(self) -> None:
        assert self.sim is not None
        await self.sim.start(timeout=max(self.timeout_s, 60.0))
        await self._settle()

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The port the central system listens on."""
        return self.csms.port

    @property
    def url(self) -> str:
        """Where charge points connect (append ``/<charge point id>``)."""
        return f"ws://{self.host}:{self.port}"

    def _emit(self, ev: ChargerEvent) -> None:
        with self._events_lock:
            self._events.append(ev)

    def _amend(self, cp: str, session: str, detail: dict[str, Any]) -> None:
        """Add ``detail`` to the PLUGGED event of ``session`` if it has not been drained yet."""
        with self._events_lock:
            for i, ev in enumerate(self._events):
                if ev.kind == EventKind.PLUGGED and ev.cp == cp and ev.transaction == session:
                    self._events[i] = replace(ev, detail={**ev.detail, **detail})

    def _run(self, coro, timeout: float | None = None) -> Any:
        if self._closed:
            coro.close()
            raise ChargerError("chargers", "the OCPP port is closed")
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return fut.result(timeout if timeout is not None else self.timeout_s * 4)
        except TimeoutError:
            fut.cancel()
            self.csms.errors += 1
            raise

    def _submit(self, coro, what: str) -> None:
        """Run ``coro`` on the loop; wait at most ``command_wait_s``, then let it finish alone.

        Real charge points answer in their own time: a slow one must not hold the control loop.
        """
        if self._closed:
            coro.close()
            raise ChargerError("chargers", "the OCPP port is closed")
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)

        def done(f) -> None:
            if not f.cancelled() and f.exception() is not None:
                LOG.error("%s failed: %r", what, f.exception())

        fut.add_done_callback(done)
        try:
            fut.result(self.command_wait_s)
        except TimeoutError:
            LOG.info("%s still waiting for charge points after %.1f s", what, self.command_wait_s)

    async def _settle(self) -> None:
        for _ in range(5):  # follow-ups may start follow-ups (status after a profile ...)
            if self.sim is not None:
                await self.sim.settle()
            await self.csms.settle()
            await asyncio.sleep(0)

    # -- ChargerPort -------------------------------------------------------------------------------
    def read(self, now: datetime) -> dict[str, ChargerReading]:
        """Every charge point's last measurement; simulated ones are first moved to ``now``."""
        if self.sim is not None:
            self._run(self._advance(now))
        return self._run(self._snapshot())

    def latest(self) -> dict[str, ChargerReading]:
        """What the central system last heard from each charge point (no simulated step)."""
        return self._run(self._snapshot())

    async def _advance(self, now: datetime) -> None:
        assert self.sim is not None
        await self.sim.advance_all(now)
        await self._settle()

    async def _snapshot(self) -> dict[str, ChargerReading]:
        out = {}
        for cp, st in self.csms.states.items():
            out[cp] = ChargerReading(
                cp=cp,
                status=st.status,
                power_kw=st.power_kw if st.tx_id is not None else 0.0,
                energy_kwh=st.energy_kwh,
                meter_kwh=st.register_kwh,
                soc_pct=st.soc_pct if st.tx_id is not None else None,
                transaction=st.session if st.tx_id is not None else None,
                at=st.meter_at,
            )
        return out

    def events(self) -> list[ChargerEvent]:
        """Events since the last call, in the order they happened at the central system.

        Not sorted by ``at``: a real charge point stamps its own messages with its own clock.
        """
        with self._events_lock:
            out, self._events = self._events, []
        return out

    def apply(self, setpoints: Sequence[Setpoint]) -> None:
        """Send each changed plan as a TxProfile (kept for a charge point without a car)."""
        for sp in setpoints:
            if sp.cp not in self.csms.states:
                raise ChargerError("cp", f"unknown charge point {sp.cp!r}")
        if self.sim is not None:
            self._run(self._apply(list(setpoints)))
        else:
            self._submit(self.csms.apply(list(setpoints)), "apply")

    async def _apply(self, setpoints: list[Setpoint]) -> None:
        await self.csms.apply(setpoints)
        await self._settle()

    def stop(self, cp: str) -> None:
        """RemoteStopTransaction at ``cp`` (waits for its StopTransaction when simulated).

        Raises
        ------
        ChargerError
            ``cp`` is unknown or has no transaction.
        """
        self._check(cp)
        if self.csms.states[cp].tx_id is None:
            raise ChargerError("cp", f"{cp} has no transaction to stop")
        if self.sim is not None:
            self._run(self._stop(cp))
        else:
            self._submit(self.csms.remote_stop(cp), "stop")

    async def _stop(self, cp: str) -> None:
        await self.csms.remote_stop(cp, wait_s=self.timeout_s if self.sim is not None else 0.0)
        await self._settle()

    def close(self) -> None:
        """Stop the simulator and the central system, and the loop's thread."""
        if self._closed:
            return
        try:
            if self._loop.is_running():
                fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
                try:
                    fut.result(10)
                except Exception as exc:  # closing anyway
                    LOG.warning("closing the OCPP port: %r", exc)
        finally:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            if not self._loop.is_running():
                self._loop.close()

    async def _shutdown(self) -> None:
        if self.sim is not None:
            await self.sim.stop()
        await self.csms.stop()
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in rest:
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    def __enter__(self) -> "OcppChargers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- more commands ------------------------------------------------------------------------------
    def _check(self, cp: str) -> None:
        if cp not in self.csms.states:
            raise ChargerError("cp", f"unknown charge point {cp!r}")

    def clear_profile(self, cp: str) -> bool:
        """ClearChargingProfile at ``cp`` (the charge point falls back to its defaults)."""
        self._check(cp)
        return self._run(self._settled(self.csms.clear_profile(cp)))

    def remote_start(self, cp: str, id_tag: str, session: str | None = None) -> bool:
        """RemoteStartTransaction at ``cp``; ``session`` names the transaction it starts."""
        self._check(cp)
        return self._run(self._settled(self.csms.remote_start(cp, id_tag, session)))

    def set_available(self, cp: str, available: bool) -> str | None:
        """ChangeAvailability (Operative / Inoperative); the charge point's answer."""
        self._check(cp)
        return self._run(self._settled(self.csms.change_availability(cp, available)))

    # -- for the cockpit and the JSON summary -------------------------------------------------------
    @property
    def ocpp_messages(self) -> int:
        """Frames the central system sent and received."""
        return self.csms.messages

    @property
    def ocpp_errors(self) -> int:
        """CallErrors sent or received, unanswered calls and failed requests."""
        return self.csms.errors

    def connections(self) -> dict[str, Connection]:
        """Each charge point's link state and last message age."""
        now = time.time()
        return {
            cp: Connection(
                cp=cp,
                connected=st.connected,
                last_message_age_s=None if st.last_message_wall is None else max(0.0, now - st.last_message_wall),
                status=st.status,
                transaction=st.session if st.tx_id is not None else None,
                noncompliant=st.noncompliant,
                unit=self.csms.unit_of(st),
            )
            for cp, st in self.csms.states.items()
        }

    async def _settled(self, coro) -> Any:
        """``coro``'s result, after the follow-ups it started (simulated charge points only)."""
        res = await coro
        if self.sim is not None:
            await self._settle()
        return res

    async def _then_settle(self, coro) -> None:
        await coro
        await self._settle()
