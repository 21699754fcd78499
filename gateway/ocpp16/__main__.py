"""The central system on its own, for commissioning a real charge point (no runtime, no plan).

    python -m gateway.ocpp16 --site data/site.json [--host 0.0.0.0] [--port 9000]
    python -m gateway.ocpp16 --site data/site.json --password CA-322   # print one password

It listens like the runtime's ``ocpp`` charger port, prints every event (boot, status,
transactions, meter values) and every ``--every`` seconds each connected charge point's
reading; ``--limit-kw X`` sends every charging charge point a flat plan of X kW. See
docs/ocpp.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import timedelta

from engine.chargers import Setpoint
from engine.site.model import load_site

from .credentials import ensure_passwords, passwords_path
from .port import OcppChargers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gateway.ocpp16", description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", default="data/site.json")
    ap.add_argument("--host", default=None, help="listening address (default $EV_OCPP_HOST or 127.0.0.1)")
    ap.add_argument("--port", type=int, default=None, help="listening port (default $EV_OCPP_PORT or 9000)")
    ap.add_argument("--state-dir", default=None, help="state folder (default $EV_STATE_DIR or ./state)")
    ap.add_argument("--password", metavar="CP", help="print the password of this charge point and exit")
    ap.add_argument("--every", type=float, default=30.0, help="print readings every this many seconds")
    ap.add_argument("--limit-kw", type=float, default=None, help="a flat plan for every open transaction [kW]")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    site = load_site(args.site)
    if args.password:
        ids = [a.id for a in site.charge_points]
        if args.password not in ids:
            print(f"--password: unknown charge point {args.password!r}", file=sys.stderr)
            return 2
        print(ensure_passwords(ids, args.state_dir)[args.password])
        return 0
    port = OcppChargers(site, host=args.host, port=args.port, state_dir=args.state_dir)
    print(f"central system at {port.url}/<charge point id> (subprotocol ocpp1.6, HTTP Basic auth)", flush=True)
    print(f"passwords: {passwords_path(port.state_dir)}", flush=True)
    try:
        last = 0.0
        while True:
            for ev in port.events():
                print(f"{ev.at:%H:%M:%S} {ev.cp} {ev.kind} {ev.transaction or ''} {ev.detail}", flush=True)
                if args.limit_kw is not None and ev.kind == "plugged":
                    now = port.clock()
                    port.apply([Setpoint(ev.cp, args.limit_kw, now - timedelta(seconds=1), 60.0, (args.limit_kw,) * 24)])
            if time.time() - last >= args.every:
                last = time.time()
                conns = port.connections()
                for cp, r in port.latest().items():
                    c = conns[cp]
                    if c.connected or r.transaction:
                        age = f"{c.last_message_age_s:.0f} s" if c.last_message_age_s is not None else "-"
                        print(f"  {cp} {r.status.name} {r.power_kw:.2f} kW {r.energy_kwh:.3f} kWh "
                              f"tx={r.transaction} connected={c.connected} last message {age} ago", flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        port.close()


if __name__ == "__main__":
    sys.exit(main())
