"""Stateful property test of SC1 + SC2 (hypothesis RuleBasedStateMachine over titanoboa).

Random sequences of register / update / set_threshold / pause / set_operator / move /
deactivate, each called by a random account, are run against the contracts and a
plain Python model. Invariants after every step:

* a stored |power| never exceeds the asset's rating;
* only an asset's operator (at that time) ever wrote its status;
* ids are unique (no duplicate asset ids; no id is both a cabinet and an asset);
* every asset's cabinet exists;
* nothing changes while paused;
* the chain agrees with the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import boa
from boa import BoaError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.contracts.conftest import BATTERY, BOARD_SRC, CP, LOAD, PV, REGISTRY_SRC, key

CABINETS = [f"C{i}" for i in range(3)]
ASSETS = [f"A{i}" for i in range(6)]
N_ACCOUNTS = 4  # 0 = admin (registrar), 1..3 operators / strangers
NON_CP_STATUSES = {0, 2, 7, 8}
CABINET_KEYS = [key(c) for c in CABINETS]
ASSET_KEYS = [key(a) for a in ASSETS]

_REG = boa.load_partial(str(REGISTRY_SRC))
_BOARD = boa.load_partial(str(BOARD_SRC))


@dataclass
class ModelAsset:
    kind: int
    cabinet: str
    operator: int
    rated: int
    capacity: int
    active: bool = True


class RegistryMachine(RuleBasedStateMachine):
    """SC1 + SC2 against a Python model."""

    @initialize()
    def deploy(self) -> None:
        self.accounts = [boa.env.eoa] + [boa.env.generate_address(f"acct{i}") for i in range(1, N_ACCOUNTS)]
        self.registry = _REG.deploy()
        self.board = _BOARD.deploy(self.registry.address)
        self.cabinets: dict[str, int] = {}
        self.assets: dict[str, ModelAsset] = {}
        self.statuses: dict[str, tuple[int, int, int]] = {}
        self.writes: list[tuple[str, str, str]] = []  # (asset, writer, operator at the time)
        self.paused = False
        self.frozen: object | None = None
        # a small site to start from: two cabinets, one asset of each kind
        self.register_cabinet("C0", 20_000, 0)
        self.register_cabinet("C1", 10_000, 0)
        for name, kind, cab, op, rated, cap in (
            ("A0", CP, "C0", 1, 7_400, 0),
            ("A1", PV, "C0", 2, 10_000, 0),
            ("A2", BATTERY, "C1", 1, 20_000, 50_000),
            ("A3", LOAD, "C1", 3, 3_000, 0),
        ):
            self.register_asset(name, kind, cab, op, rated, cap, 0)

    # -- helpers -----------------------------------------------------------------
    def _call(self, ok: bool, fn, *args, sender: int = 0) -> None:
        """Run fn(*args) as accounts[sender]; it must succeed iff ``ok``."""
        with boa.env.prank(self.accounts[sender]):
            if ok:
                fn(*args)
            else:
                try:
                    fn(*args)
                except BoaError:
                    return
                raise AssertionError(f"{fn} {args} from account {sender} should have reverted")

    def _snapshot(self) -> tuple:
        """Everything observable on both contracts (bulk views: one call each)."""
        r, b = self.registry, self.board
        cabs = tuple(tuple(c) for c in r.get_cabinets(CABINET_KEYS))
        assets = tuple(tuple(a) for a in r.get_assets(ASSET_KEYS))
        stats = tuple(tuple(x) for x in b.get_statuses(ASSET_KEYS))
        return cabs, assets, stats, tuple(r.asset_ids(0, 256)), tuple(r.cabinet_ids(0, 256)), r.paused()

    def _status_ok(self, name: str, sender: int, status: int, power: int, energy: int) -> bool:
        a = self.assets.get(name)
        if self.paused or a is None or not a.active or a.operator != sender or status > 8:
            return False
        if a.kind != CP and status not in NON_CP_STATUSES:
            return False
        if abs(power) > a.rated or (power < 0 and a.kind != BATTERY):
            return False
        return not (a.kind == BATTERY and energy > a.capacity)

    def _record_write(self, name: str, sender: int, status: int, power: int, energy: int) -> None:
        onchain_operator = self.registry.get_asset(key(name)).operator
        self.writes.append((name, self.accounts[sender], onchain_operator))
        self.statuses[name] = (status, power, energy)

    # -- rules -------------------------------------------------------------------------
    @rule(name=st.sampled_from(CABINETS + ASSETS[:1]), threshold=st.integers(0, 100_000), sender=st.integers(0, 1))
    def register_cabinet(self, name: str, threshold: int, sender: int) -> None:
        ok = not self.paused and sender == 0 and name not in self.cabinets and name not in self.assets
        self._call(ok, self.registry.register_cabinet, key(name), name, threshold, 0, 0, sender=sender)
        if ok:
            self.cabinets[name] = threshold

    @rule(name=st.sampled_from(CABINETS), threshold=st.integers(0, 100_000), sender=st.integers(0, 1))
    def set_threshold(self, name: str, threshold: int, sender: int) -> None:
        ok = not self.paused and sender == 0 and name in self.cabinets
        self._call(ok, self.registry.set_threshold, key(name), threshold, sender=sender)
        if ok:
            self.cabinets[name] = threshold

    @rule(
        name=st.sampled_from(ASSETS + CABINETS[:1]),
        kind=st.integers(0, 5),
        cabinet=st.sampled_from(CABINETS),
        operator=st.integers(1, N_ACCOUNTS - 1),
        rated=st.integers(0, 20_000),
        capacity=st.sampled_from([0, 1, 40_000]),
        sender=st.integers(0, 1),
    )
    def register_asset(self, name, kind, cabinet, operator, rated, capacity, sender) -> None:
        ok = (
            not self.paused
            and sender == 0
            and name not in self.assets
            and name not in self.cabinets
            and 1 <= kind <= 4
            and cabinet in self.cabinets
            and rated > 0
            and ((capacity > 0) if kind == BATTERY else capacity == 0)
        )
        self._call(
            ok, self.registry.register_asset, key(name), name, kind, key(cabinet), self.accounts[operator],
            0, 0, rated, capacity, 0, sender=sender,
        )
        if ok:
            self.assets[name] = ModelAsset(kind, cabinet, operator, rated, capacity)

    @precondition(lambda self: bool(self.cabinets))
    @rule(data=st.data())
    def register_valid_asset(self, data) -> None:
        """An asset valid in every respect but the pause and a taken id."""
        name = data.draw(st.sampled_from(ASSETS))
        kind = data.draw(st.integers(1, 4))
        cabinet = data.draw(st.sampled_from(sorted(self.cabinets)))
        operator = data.draw(st.integers(1, N_ACCOUNTS - 1))
        rated = data.draw(st.integers(1, 20_000))
        capacity = data.draw(st.integers(1, 60_000)) if kind == BATTERY else 0
        self.register_asset(name, kind, cabinet, operator, rated, capacity, 0)

    @rule(name=st.sampled_from(ASSETS), operator=st.integers(1, N_ACCOUNTS - 1), sender=st.integers(0, 1))
    def set_operator(self, name: str, operator: int, sender: int) -> None:
        a = self.assets.get(name)
        ok = not self.paused and sender == 0 and a is not None and a.active
        self._call(ok, self.registry.set_operator, key(name), self.accounts[operator], sender=sender)
        if ok:
            a.operator = operator

    @rule(name=st.sampled_from(ASSETS), cabinet=st.sampled_from(CABINETS), sender=st.integers(0, 1))
    def move(self, name: str, cabinet: str, sender: int) -> None:
        a = self.assets.get(name)
        ok = not self.paused and sender == 0 and a is not None and a.active and cabinet in self.cabinets
        self._call(ok, self.registry.move_asset, key(name), key(cabinet), 1, 1, sender=sender)
        if ok:
            a.cabinet = cabinet

    @rule(name=st.sampled_from(ASSETS), sender=st.integers(0, 1))
    def deactivate(self, name: str, sender: int) -> None:
        a = self.assets.get(name)
        ok = not self.paused and sender == 0 and a is not None and a.active
        self._call(ok, self.registry.deactivate, key(name), sender=sender)
        if ok:
            a.active = False

    @rule(sender=st.integers(0, 1))
    def pause(self, sender: int) -> None:
        ok = sender == 0 and not self.paused
        self._call(ok, self.registry.pause, sender=sender)
        if ok:
            self.paused = True
            self.frozen = self._snapshot()

    @rule(sender=st.integers(0, 1))
    def unpause(self, sender: int) -> None:
        ok = sender == 0 and self.paused
        self._call(ok, self.registry.unpause, sender=sender)
        if ok:
            self.paused = False
            self.frozen = None

    @rule(
        name=st.sampled_from(ASSETS),
        sender=st.integers(0, N_ACCOUNTS - 1),
        status=st.integers(0, 9),
        power=st.integers(-25_000, 25_000),
        energy=st.integers(0, 50_000),
    )
    def update_status(self, name, sender, status, power, energy) -> None:
        ok = self._status_ok(name, sender, status, power, energy)
        self._call(ok, self.board.update_status, key(name), status, power, energy, sender=sender)
        if ok:
            self._record_write(name, sender, status, power, energy)

    @rule(
        items=st.lists(
            st.tuples(st.sampled_from(ASSETS), st.sampled_from([0, 2, 7, 8]), st.integers(-5_000, 5_000),
                      st.integers(0, 100)),
            max_size=5,
        ),
        sender=st.integers(1, N_ACCOUNTS - 1),
    )
    def update_batch(self, items, sender) -> None:
        ok = all(self._status_ok(n, sender, s, p, e) for n, s, p, e in items) and not self.paused
        self._call(
            ok, self.board.update_batch, [key(i[0]) for i in items], [i[1] for i in items], [i[2] for i in items],
            [i[3] for i in items], sender=sender,
        )
        if ok:
            for n, s, p, e in items:
                self._record_write(n, sender, s, p, e)

    def _active(self) -> list[str]:
        return sorted(n for n, a in self.assets.items() if a.active)

    def _near_valid_values(self, data, name: str) -> tuple[int, int, int]:
        """Values at and around the asset's bounds (mostly valid, sometimes just not)."""
        a = self.assets[name]
        status = data.draw(st.integers(0, 9))
        power = data.draw(st.integers(-a.rated - 1, a.rated + 1))
        energy = data.draw(st.integers(0, a.capacity + 1 if a.kind == BATTERY else 10**6))
        return status, power, energy

    @precondition(lambda self: any(a.active for a in self.assets.values()))
    @rule(data=st.data())
    def post_operator_status(self, data) -> None:
        """A status posted by the asset's operator, with values around its bounds."""
        name = data.draw(st.sampled_from(self._active()))
        status, power, energy = self._near_valid_values(data, name)
        sender = self.assets[name].operator
        ok = self._status_ok(name, sender, status, power, energy)
        self._call(ok, self.board.update_status, key(name), status, power, energy, sender=sender)
        if ok:
            self._record_write(name, sender, status, power, energy)

    @precondition(lambda self: any(a.active for a in self.assets.values()))
    @rule(data=st.data())
    def post_operator_batch(self, data) -> None:
        """A batch of one operator's assets, with values around their bounds."""
        first = data.draw(st.sampled_from(self._active()))
        sender = self.assets[first].operator
        mine = [n for n in self._active() if self.assets[n].operator == sender]
        names = data.draw(st.lists(st.sampled_from(mine), min_size=1, max_size=4))
        items = [(n, *self._near_valid_values(data, n)) for n in names]
        ok = all(self._status_ok(n, sender, s_, p_, e_) for n, s_, p_, e_ in items)
        self._call(
            ok, self.board.update_batch, [key(i[0]) for i in items], [i[1] for i in items], [i[2] for i in items],
            [i[3] for i in items], sender=sender,
        )
        if ok:
            for n, s_, p_, e_ in items:
                self._record_write(n, sender, s_, p_, e_)

    # -- invariants --------------------------------------------------------------------
    @invariant()
    def invariants(self) -> None:
        """All invariants over one bulk read of both contracts."""
        cabs, assets, stats, ids, cab_ids, paused = snap = self._snapshot()
        by_key = dict(zip(ASSET_KEYS, assets))
        # a stored |power| never exceeds the rating; nothing stored for unknown assets
        for info, status in zip(assets, stats):
            if info[0]:
                assert abs(status[1]) <= info[5]
            else:
                assert status[3] == 0
        # only an asset's operator (at that time) ever wrote its status
        assert all(writer == operator for _, writer, operator in self.writes)
        # ids unique, no id both a cabinet and an asset, every asset's cabinet exists
        assert len(set(ids)) == len(ids) == len(self.assets)
        assert len(set(cab_ids)) == len(cab_ids) == len(self.cabinets)
        assert not set(ids) & set(cab_ids)
        assert all(by_key[k][1] in cab_ids for k in ids)
        # nothing changes while paused
        assert paused == self.paused
        if self.paused:
            assert snap == self.frozen
        # the chain agrees with the model
        for name, c in zip(CABINETS, cabs):
            assert c[3] == (name in self.cabinets)
            if c[3]:
                assert c[0] == self.cabinets[name]
        for name, info, s_ in zip(ASSETS, assets, stats):
            a = self.assets.get(name)
            if a is None:
                assert info[0] == 0
                continue
            assert (info[0], info[1], info[2], info[5], info[6], info[8]) == (
                a.kind, key(a.cabinet), self.accounts[a.operator], a.rated, a.capacity, a.active,
            )
            assert tuple(s_[:3]) == self.statuses.get(name, (0, 0, 0))


RegistryMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRegistryMachine = RegistryMachine.TestCase
