"""Cars still plugged in after the departure their driver stated ("overdue").

A promise holds until the stated departure; once it has passed, the car can no longer be
promised anything (a promise would not be kept if it then leaves), but it is still there and
usually still needs energy. Two rules (measured in ``docs/promises.md``, "Estimated departures"):

- **In the admission** (:func:`overdue_cars`): each overdue car is a driver to serve in full, as
  if it stayed :data:`OVERSTAY_MINUTES` more, so the policy keeps room for it; it is never
  promised. While any overdue car still needs energy no present car's promise is raised
  (``upgrades``): the windows the model believes are then visibly too short.
- **In the plan** (:func:`serve_overdue_first`): the next step of each overdue car is
  guaranteed *in the plan* (not to the driver) as far as every promise allows, earliest stated
  departure first: what EDF does with them, without touching a promise. A promise past its
  margin deadline (the live site's, ``asap``) must stay deliverable as fast as its car takes it:
  checked only against its whole window, an overdue car granted one step at every re-plan
  pushed such a promise to its last minutes, where a tapering car then fell 20 Wh short
  (docs/promises.md, "Promises first"). Checked so, the promise keeps its car's whole rate in
  every step of that window, and an overdue car granted nothing then gets nothing (not best
  effort) while such a promise runs: the part of a step the whole-step window leaves went to it
  at every re-plan otherwise (19 Wh short on another promise: "Requests beyond the stated stay").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Sequence

from engine.optimize.scenario import Scenario, SessionSpec
from engine.promises.cars import EPS_KWH, Car, quote_kwh, rate_kw

__all__ = ["OVERSTAY_MINUTES", "overdue_cars", "serve_overdue_first"]

OVERSTAY_MINUTES = 180.0
"""How long the admission assumes a car past its stated departure stays still [min]."""


def overdue_cars(scenario: Scenario, overdue: Sequence[SessionSpec]) -> list[Car]:
    """The overdue cars as drivers of the admission model, never promised.

    Parameters
    ----------
    scenario : Scenario
        The cabinet from now on (step 0 = now).
    overdue : sequence of SessionSpec
        One per car past its stated departure, ``energy_kwh`` its remaining need [kWh]; its
        window is ignored: from now for :data:`OVERSTAY_MINUTES`.

    Returns
    -------
    list of Car
        ``kind="present"`` with no promise (``floor`` 0), the need capped to what the charge
        point gives in that time [kWh]. :func:`engine.promises.decide_promises` keeps them out
        of the promises and the upgrades.
    """
    steps = max(1, round(OVERSTAY_MINUTES / float(scenario.step_minutes)))
    out = []
    for s in overdue:
        rate = rate_kw(scenario, s)
        need = min(max(float(s.energy_kwh), 0.0), rate * float(scenario.dt_hours) * steps)
        if need > EPS_KWH:
            out.append(Car(s.cp, s.id, 0, steps, rate, need, 0.0, "present"))
    return out


def serve_overdue_first(scenario: Scenario, specs: Sequence[SessionSpec], overdue: Sequence[str],
                        asap: Collection[str] = ()) -> list[SessionSpec]:
    """The plan's sessions with the next step of each overdue car guaranteed, as far as the promises allow.

    Parameters
    ----------
    scenario : Scenario
        The cabinet from now on (step 0 = now), with a charge point per session.
    specs : sequence of SessionSpec
        The sessions to plan: promises (``guaranteed=True``) and best effort; an overdue car's
        spec ends at step 1 (it is planned as leaving at the next step).
    overdue : sequence of str
        Ids of the overdue cars' specs, in the order served (earliest stated departure first).
    asap : collection of str
        Ids of promises that must stay deliverable from now at their car's rate: an overdue
        step is granted only if they still can be (their window taken as the fewest steps).

    Returns
    -------
    list of SessionSpec
        ``specs`` with each overdue spec made ``guaranteed`` for the most of its next step the
        engine's quote allows given the guarantees before it (the promises, then the overdue
        cars before it); a car that gets nothing keeps its best-effort spec.
    """
    order = {sid: k for k, sid in enumerate(overdue)}
    late = sorted((s for s in specs if s.id in order), key=lambda s: order[s.id])
    out = [s for s in specs if s.id not in order]
    dt = float(scenario.dt_hours)
    tight = {x.id: _at_full_rate(scenario, x) for x in specs if x.id in asap}
    for s in late:
        want = min(float(s.energy_kwh), rate_kw(scenario, s) * dt * max(s.departure_step, 0))
        kept = [tight.get(x.id, x) for x in out if x.guaranteed]
        g = min(want, quote_kwh(scenario, kept, s, want)) if want > EPS_KWH else 0.0
        # a hair below the quote: the plan's own tolerance must not turn it infeasible
        if g > 1e-4:
            out.append(dataclasses.replace(s, energy_kwh=g * (1 - 1e-6), guaranteed=True))
        elif not tight:
            out.append(s)
        # else nothing this step: as best effort, the plan's total-energy stage would give it the
        # part of a step a late promise's whole-step window leaves, at every re-plan
    return out


def _at_full_rate(scenario: Scenario, s: SessionSpec) -> SessionSpec:
    """``s`` with its window cut to the fewest steps its energy takes at its car's rate, and its
    energy to the car's rate in every one of them (so checked, an overdue car is granted nothing
    the promise could take now); as it is when even that is too slow."""
    per_step = rate_kw(scenario, s) * float(scenario.dt_hours)
    if per_step <= 0:
        return s
    fewest = max(1, math.ceil(float(s.energy_kwh) / per_step - 1e-9))
    if fewest > s.departure_step:
        return s
    return dataclasses.replace(s, departure_step=fewest, energy_kwh=fewest * per_step)
