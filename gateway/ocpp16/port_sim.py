"""The simulated side of the ``ocpp`` charger port: cars, faults and links of simulated charge points.

Mixed into :class:`gateway.ocpp16.port.OcppChargers`; every method needs
``OcppChargers(simulate=True)`` (:class:`gateway.ocpp16.sim.Simulator` on loopback) and, like
the rest of the port, hands a coroutine to the port's event loop and waits for it and for the
follow-ups it started.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Callable, Coroutine

from engine.runtime.cars import Car
from engine.chargers import ChargerError

from .csms import CentralSystem
from .sim import Simulator
from .sim_cp import SimChargePoint

__all__ = ["SimulatedCars"]


class SimulatedCars:
    """Mixin of :class:`~gateway.ocpp16.port.OcppChargers`: drive its simulated charge points."""

    sim: Simulator | None
    csms: CentralSystem
    timeout_s: float
    _loop: asyncio.AbstractEventLoop
    # the port's plumbing (OcppChargers): run a coroutine on its loop and wait; refuse an
    # unknown charge point; a coroutine, then the follow-ups it started
    _run: Callable[..., Any]
    _check: Callable[[str], None]
    _then_settle: Callable[[Coroutine[Any, Any, Any]], Coroutine[Any, Any, None]]

    # -- the simulated charge points (simulate=True) -------------------------------------------------
    # plug, unplug, fault and recover are None without simulation, so that callers can test
    # ``callable(port.plug)`` as they do for the runtime's own simulator.
    def _sim_cp(self, cp: str) -> SimChargePoint:
        if self.sim is None:
            raise ChargerError("simulate", "needs OcppChargers(simulate=True)")
        self._check(cp)
        return self.sim.cps[cp]

    @property
    def plug(self) -> Callable[..., None] | None:
        """``plug(cp, car, at, *, ignore_limit=False)`` (simulate only): a car arrives.

        Its transaction is named ``car.id``; with ``ignore_limit`` the car draws what it accepts
        whatever its profile (a charge point that does not follow it). The simulator charges
        this very :class:`Car` object (as the runtime's simulator does).
        """
        return self._plug if self.sim is not None else None

    def _plug(self, cp: str, car: Car, at: datetime, *, ignore_limit: bool = False) -> None:
        scp = self._sim_cp(cp)
        if scp.car is not None:
            raise ChargerError("cp", f"{cp} already has a car ({scp.car.id})")
        self.csms.session_hint[cp] = car.id
        self._run(self._then_settle(scp.plug(car, at, ignore_limit=ignore_limit)))

    @property
    def unplug(self) -> Callable[..., None] | None:
        """``unplug(cp, at, reason="left")`` (simulate only): the car leaves at ``at``."""
        return self._unplug if self.sim is not None else None

    def _unplug(self, cp: str, at: datetime, reason: str = "left") -> None:
        ocpp_reason = {"left": "EVDisconnected", "stopped": "Local"}.get(reason, "Other")
        self._run(self._then_settle(self._sim_cp(cp).unplug(at, ocpp_reason)))

    @property
    def fault(self) -> Callable[..., None] | None:
        """``fault(cp, at, minutes=30.0)`` (simulate only): no power for ``minutes`` (None: until recover)."""
        return self._fault if self.sim is not None else None

    def _fault(self, cp: str, at: datetime, minutes: float | None = 30.0) -> None:
        self._run(self._then_settle(self._sim_cp(cp).fault(at, minutes)))

    @property
    def recover(self) -> Callable[..., None] | None:
        """``recover(cp, at)`` (simulate only): the fault clears at ``at``."""
        return self._recover if self.sim is not None else None

    def _recover(self, cp: str, at: datetime) -> None:
        self._run(self._then_settle(self._sim_cp(cp).recover(at)))

    def car(self, cp: str) -> Car | None:
        """The simulated car at ``cp`` (None if free, or without simulation)."""
        if self.sim is None:
            return None
        return self._sim_cp(cp).car

    def disconnect(self, cp: str) -> None:
        """(simulate) Drop ``cp``'s WebSocket: it keeps charging under its profile, queueing messages."""
        self._sim_cp(cp)
        self._run(self._then_settle(self._set_online(cp, False)))

    def reconnect(self, cp: str) -> None:
        """(simulate) ``cp`` reconnects: the central system triggers status and meter values, re-sends its plan."""
        self._sim_cp(cp)
        self._run(self._then_settle(self._set_online(cp, True)))

    def misbehave(self, cp: str, on: bool = True) -> None:
        """(simulate) ``cp`` ignores (True) or follows again (False) its charging profiles."""
        scp = self._sim_cp(cp)
        self._loop.call_soon_threadsafe(setattr, scp, "ignore_profile", bool(on))
        self._run(asyncio.sleep(0))

    async def _set_online(self, cp: str, online: bool) -> None:
        """Drop or restore the link, and wait until the central system has seen it."""
        assert self.sim is not None
        await self.sim.set_online(cp, online)
        st = self.csms.states[cp]
        for _ in range(int(self.timeout_s / 0.01)):
            if st.connected == online and (not online or st.conn is not None):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)  # let the handler spawn its follow-ups (triggers, the plan)
