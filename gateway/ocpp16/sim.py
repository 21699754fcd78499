"""Simulated OCPP 1.6J charge points: many in one process, each on its own WebSocket.

Each :class:`~gateway.ocpp16.sim_cp.SimChargePoint` (its answers to the central system in
:mod:`gateway.ocpp16.sim_calls`) boots, reports its status, starts a transaction when a car is
plugged in, follows the TxProfile it receives with the runtime's car physics
(:class:`engine.runtime.cars.Car`, capped by the charge point's rating), sends MeterValues
(Energy.Active.Import.Register [Wh], Power.Active.Import [W], SoC [%] when the car tells it),
stops the transaction when the car leaves, and can be told to fault, recover, drop its
connection, reconnect, or ignore its profile (a non-complying charge point).

Time is the caller's: :meth:`Simulator.advance_all` moves every charge point to a given
instant (physics integrated piecewise between profile changes, then MeterValues stamped with
that instant), so a headless day on a stepped clock runs at full speed. Standalone, the
command line runs it on the wall clock::

    python -m gateway.ocpp16.sim --csms ws://127.0.0.1:9000 --site data/site.json

and reads commands on standard input (``plug CP KWH SOC MAX_KW [HOURS]``, ``unplug CP``,
``fault CP``, ``recover CP``, ``disconnect CP``, ``reconnect CP``, ``misbehave CP on|off``,
``status``); see docs/ocpp.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import datetime, timedelta
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from ocpp.v16 import call

from engine.runtime.cars import Car
from engine.site.model import Site, load_site

from .credentials import load_passwords
from .sim_cp import SimChargePoint
from .tasks import FollowUps

__all__ = ["SimChargePoint", "Simulator", "main"]


class Simulator(FollowUps):
    """Many simulated charge points of one site, sharing a clock.

    Parameters
    ----------
    site : Site
    url : str
        The central system, e.g. ``ws://127.0.0.1:9000``.
    passwords : dict
        Charge point id -> password.
    clock : callable
        Site time now (aware datetime).
    units : dict
        Per charge point ``"W"``, ``"A"`` or ``"WA"`` (declared rate units; default ``"W"``).
    voltage_v : float
        Supply voltage [V] (profiles in amperes).
    phases : int
    meter_interval_s : float
        MeterValues interval on the wall clock (:meth:`run_realtime`) [s].
    cp_ids : iterable of str or None
        Only these charge points (default: all the site's).
    validate : bool
        Check messages against the 1.6J schemas on the charge point side too (the central
        system always does; the port's in-process simulation turns this off for speed).
    """

    def __init__(
        self,
        site: Site,
        url: str,
        passwords: dict[str, str],
        *,
        clock: Callable[[], datetime] | None = None,
        units: dict[str, str] | None = None,
        max_periods: dict[str, int] | None = None,
        voltage_v: float | None = None,
        phases: int = 1,
        meter_interval_s: float = 60.0,
        response_timeout: float = 30.0,
        cp_ids: Iterable[str] | None = None,
        validate: bool = True,
    ):
        tz = ZoneInfo(site.timezone)
        self.site = site
        self.url = url
        self.passwords = dict(passwords)
        self.clock = clock or (lambda: datetime.now(tz))
        self.voltage_v = float(voltage_v or site.extra.get("voltage_v") or 230.0)
        self.phases = phases
        self.meter_interval_s = meter_interval_s
        self.response_timeout = response_timeout
        self.validate = validate
        self.messages = 0
        self.refused: dict[str, int] = {}
        wanted = set(cp_ids) if cp_ids is not None else None
        units = units or {}
        max_periods = max_periods or {}
        self.cps: dict[str, SimChargePoint] = {
            a.id: SimChargePoint(a, self, unit=units.get(a.id, "W"), max_periods=max_periods.get(a.id, 1000))
            for a in site.charge_points
            if wanted is None or a.id in wanted
        }
        self._online_cond = asyncio.Condition()
        self._tasks: set[asyncio.Task] = set()

    async def online_changed(self, cp: SimChargePoint) -> None:
        async with self._online_cond:
            await self._online_cond.wait_for(lambda: cp.want_online)

    async def offline_requested(self, cp: SimChargePoint) -> None:
        async with self._online_cond:
            await self._online_cond.wait_for(lambda: not cp.want_online)

    async def set_online(self, cp_id: str, online: bool) -> None:
        """Drop (False) or restore (True) a charge point's connection."""
        cp = self.cps[cp_id]
        async with self._online_cond:
            cp.want_online = online
            self._online_cond.notify_all()
        if online:
            await asyncio.wait_for(cp.connected.wait(), self.response_timeout)
            # wait until what was queued while offline is delivered
            async with cp._lock:
                pass
        else:
            for _ in range(1000):
                if not cp.connected.is_set():
                    break
                await asyncio.sleep(0.005)

    async def start(self, *, timeout: float | None = None) -> None:
        """Connect and boot every charge point (raises if one is refused or too slow)."""
        for cp in self.cps.values():
            cp._runner = asyncio.ensure_future(cp.run())
        waits = [asyncio.ensure_future(cp.connected.wait()) for cp in self.cps.values()]
        done, pending = await asyncio.wait(waits, timeout=timeout or self.response_timeout)
        for p in pending:
            p.cancel()
        if pending or self.refused:
            missing = [c for c, cp in self.cps.items() if not cp.connected.is_set()]
            raise ConnectionError(f"charge points not connected: {', '.join(missing[:10])} (refused: {self.refused})")

    async def stop(self) -> None:
        for cp in self.cps.values():
            if cp._runner is not None:
                cp._runner.cancel()
        await asyncio.gather(*(cp._runner for cp in self.cps.values() if cp._runner), return_exceptions=True)

    async def advance_all(self, to: datetime) -> None:
        """Every charge point to ``to``; returns when the central system has answered all."""
        await asyncio.gather(*(cp.advance(to) for cp in self.cps.values()))

    async def run_realtime(self) -> None:
        """MeterValues every ``meter_interval_s`` on the wall clock, a heartbeat every 5 minutes."""
        beats = 0.0
        while True:
            await asyncio.sleep(self.meter_interval_s)
            await self.advance_all(self.clock())
            beats += self.meter_interval_s
            if beats >= 300:
                beats = 0.0
                await asyncio.gather(*(cp.call(call.Heartbeat()) for cp in self.cps.values() if cp._online()))


async def _commands(sim: Simulator) -> None:
    """Read commands from standard input (one a line)."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        words = line.split()
        if not words:
            continue
        cmd, args = words[0].lower(), words[1:]
        try:
            if cmd == "status":
                for cid, cp in sim.cps.items():
                    print(f"{cid} {cp.status} online={cp._online()} power={cp.power_kw(cp.t):.2f} kW meter={cp.meter_wh / 1000:.3f} kWh", flush=True)
                continue
            cp = sim.cps[args[0]]
            now = sim.clock()
            if cmd == "plug":
                kwh, soc, max_kw = float(args[1]), float(args[2]), float(args[3])
                hours = float(args[4]) if len(args) > 4 else None
                dep = now + timedelta(hours=hours) if hours else None
                car = Car(id=f"{cp.id}-{now:%H%M%S}", battery_kwh=kwh, soc_pct=soc, max_kw=max_kw, departs_at=dep)
                await cp.plug(car, now)
            elif cmd == "unplug":
                await cp.unplug(now)
            elif cmd == "fault":
                await cp.fault(now)
            elif cmd == "recover":
                await cp.recover(now)
            elif cmd == "disconnect":
                await sim.set_online(cp.id, False)
            elif cmd == "reconnect":
                await sim.set_online(cp.id, True)
            elif cmd == "misbehave":
                cp.ignore_profile = (args[1].lower() if len(args) > 1 else "on") in ("on", "1", "true", "yes")
            else:
                print(f"unknown command {cmd!r}", flush=True)
                continue
            print(f"ok {cmd} {cp.id}", flush=True)
        except (KeyError, IndexError, ValueError) as exc:
            print(f"error: {cmd}: {exc!r}", flush=True)


async def _amain(args: argparse.Namespace) -> int:
    site = load_site(args.site)
    passwords = load_passwords(args.state_dir)
    ids = args.cp or [a.id for a in site.charge_points]
    missing = [c for c in ids if c not in passwords]
    if missing:
        print(f"--state-dir: no password for {', '.join(missing[:5])} (start the central system first)", file=sys.stderr)
        return 2
    units = {c: args.unit for c in ids}
    sim = Simulator(site, args.csms, passwords, units=units, meter_interval_s=args.interval, cp_ids=ids)
    await sim.start(timeout=60)
    print(f"{len(sim.cps)} charge points connected to {args.csms}", flush=True)
    tasks = [asyncio.ensure_future(sim.run_realtime())]
    if not args.no_stdin:
        tasks.append(asyncio.ensure_future(_commands(sim)))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await sim.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gateway.ocpp16.sim", description=__doc__.split("\n\n")[0])
    ap.add_argument("--csms", default="ws://127.0.0.1:9000", help="central system URL (default %(default)s)")
    ap.add_argument("--site", default="data/site.json", help="site file (default %(default)s)")
    ap.add_argument("--state-dir", default=None, help="state folder with ocpp/passwords.json (default $EV_STATE_DIR or ./state)")
    ap.add_argument("--cp", action="append", help="only this charge point (repeatable)")
    ap.add_argument("--unit", choices=["W", "A", "WA"], default="W", help="charging rate units declared (default %(default)s)")
    ap.add_argument("--interval", type=float, default=60.0, help="MeterValues interval [s] (default %(default)s)")
    ap.add_argument("--no-stdin", action="store_true", help="do not read commands from standard input")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    try:
        return asyncio.run(_amain(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
