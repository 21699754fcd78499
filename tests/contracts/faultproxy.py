"""A fault-injecting JSON-RPC proxy on 127.0.0.1, put in front of a real node in the tests.

Per request it forwards to the node and answers, or injects one fault:

``drop``
    forward the request (the node acts on it), then close the connection without the
    reply - a reply lost on the way back;
``delay``
    wait ``delay_s`` before forwarding and answering;
``hang``
    accept and never answer (until the proxy is told otherwise or stopped);
``refuse``
    close the connection at once, forwarding nothing.

Faults come from one-shot rules (``proxy.once("eth_sendRawTransaction", "drop")``), from a
mode applied to every request (``proxy.mode = "hang"``), or at random
(``proxy.randomly(0.1, ("drop", "delay"), seed=1)``). ``proxy.seen`` counts requests per
method and ``proxy.injected`` the faults per kind.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
import urllib.request
from collections import Counter, defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["FaultProxy", "HangingListener"]

KINDS = ("drop", "delay", "hang", "refuse")


class FaultProxy:
    """JSON-RPC proxy with injectable faults (``with FaultProxy(url) as proxy: proxy.url``)."""

    def __init__(self, upstream: str, *, delay_s: float = 0.2) -> None:
        self.upstream = upstream
        self.delay_s = delay_s
        self.mode: str | None = None
        self.seen: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self._once: dict[str, deque[str]] = defaultdict(deque)
        self._rate = 0.0
        self._kinds: tuple[str, ...] = ()
        self._methods: frozenset[str] | None = None
        self._rng = random.Random(0)
        self._lock = threading.Lock()
        self._release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms ACK stalls

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    method = str(json.loads(body).get("method", "?"))
                except (ValueError, AttributeError):
                    method = "?"
                fault = proxy._pick(method)
                if fault == "refuse":
                    self.close_connection = True
                    return
                if fault == "hang":
                    proxy._release.wait(600)
                    self.close_connection = True
                    return
                if fault == "delay":
                    time.sleep(proxy.delay_s)
                req = urllib.request.Request(proxy.upstream, data=body, headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        answer = resp.read()
                except OSError:
                    self.close_connection = True
                    return
                if fault == "drop":
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- faults -----------------------------------------------------------------------------
    def once(self, method: str, kind: str) -> None:
        """Inject ``kind`` into the next request of ``method`` (queued)."""
        assert kind in KINDS
        with self._lock:
            self._once[method].append(kind)

    def randomly(self, rate: float, kinds: tuple[str, ...], *, seed: int = 0, methods: set[str] | None = None) -> None:
        """Inject one of ``kinds`` into a fraction ``rate`` of requests (of ``methods`` if given)."""
        with self._lock:
            self._rate, self._kinds, self._rng = float(rate), tuple(kinds), random.Random(seed)
            self._methods = frozenset(methods) if methods else None

    def heal(self) -> None:
        """No more faults; requests left hanging are closed."""
        with self._lock:
            self.mode = None
            self._rate = 0.0
            self._once.clear()
        self._release.set()
        self._release = threading.Event()

    def _pick(self, method: str) -> str | None:
        with self._lock:
            self.seen[method] += 1
            fault = None
            if self.mode is not None:
                fault = self.mode
            elif self._once.get(method):
                fault = self._once[method].popleft()
            elif self._rate and (self._methods is None or method in self._methods) and self._rng.random() < self._rate:
                fault = self._rng.choice(self._kinds)
            if fault is not None:
                self.injected[fault] += 1
            return fault

    # -- life -------------------------------------------------------------------------------
    def start(self) -> "FaultProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class HangingListener:
    """A TCP listener that accepts connections and never answers (a hung node)."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._conns: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)  # kept open, never read, never answered

    def __enter__(self) -> "HangingListener":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._sock.close()
        for c in self._conns:
            c.close()
