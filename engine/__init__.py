"""EV smart-charging engine: site model, LP scheduler, quotes, replay, live runtime.

Pure Python: never imports streamlit or web3. ``python -m engine --help`` is its CLI.
"""
