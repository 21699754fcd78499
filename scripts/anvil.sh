#!/usr/bin/env bash
# Start a persistent local anvil node for the app (state kept in $EV_STATE_DIR/anvil/state.json).
#   bash scripts/anvil.sh                      # then: CHAIN_RPC_URL=http://127.0.0.1:8545 streamlit run app.py
#   PORT=8546 EV_STATE_DIR=/tmp/ev bash scripts/anvil.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ANVIL=node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
[ -x "$ANVIL" ] || npm install --no-audit --no-fund --loglevel=error
STATE="${EV_STATE_DIR:-state}"; mkdir -p "$STATE/anvil"
exec "$ANVIL" --host 127.0.0.1 --port "${PORT:-8545}" --state "$STATE/anvil/state.json" --state-interval 1
