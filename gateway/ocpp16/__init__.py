"""OCPP 1.6J: a central system behind the runtime's charger port, and a charge point simulator.

* :mod:`gateway.ocpp16.csms` - the central system (``ocpp`` on ``websockets``);
* :mod:`gateway.ocpp16.port` - :class:`OcppChargers`, the ``ocpp`` charger port;
* :mod:`gateway.ocpp16.sim` - simulated charge points (``python -m gateway.ocpp16.sim``);
* :mod:`gateway.ocpp16.profiles` - setpoints as TxProfiles and back;
* :mod:`gateway.ocpp16.credentials` - per charge point passwords in the state folder.

See docs/ocpp.md.
"""
