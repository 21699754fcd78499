"""The live site's runtime: clock, charger port and simulator, journal, control loop, telemetry.

Pure Python (no streamlit, web3 or websockets). See :mod:`engine.chargers` for the seams.
"""
