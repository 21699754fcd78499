"""Optimisation: the scenario format, the lexicographic LP per cabinet, quotes, the deadline split.

Modules: :mod:`~engine.optimize.scenario` (the scenario dataclasses, their validation and JSON),
:mod:`~engine.optimize.lp_model` (one sparse LP per cabinet on blocks of steps, in HiGHS),
:mod:`~engine.optimize.planner` (the stages 0-5: ``plan``, ``plan_cabinet``),
:mod:`~engine.optimize.quote` (what can be promised), :mod:`~engine.optimize.tiebreak`
(the earliest-deadline split of a cabinet's power). The public names are importable from
:mod:`engine` itself (``from engine import plan, quote, parse_scenario``).
"""
