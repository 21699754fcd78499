#!/usr/bin/env bash
# Install everything a fresh machine lacks, then run the whole test suite.
#   bash scripts/test.sh            # everything (engine, contracts, app, e2e, anvil)
#   bash scripts/test.sh tests/engine -k quote   # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

# Python 3.11 (.python-version)
if ! python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "warning: $(python3 --version) found; the project is built and tested on Python 3.11" >&2
fi

echo "== pip packages (requirements-test.txt: the app's requirements.txt and the test tools)"
python3 -m pip install -q --disable-pip-version-check -r requirements-test.txt

if [ ! -x /usr/bin/chromium ]; then
  echo "== Debian chromium (browser tests)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [ ! -x node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil ] || [ ! -f node_modules/ocpp-rpc/package.json ]; then
  echo "== npm @foundry-rs/anvil (real-node tests), ocpp-rpc (OCPP interop test)"
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi

echo "== pytest"
set +e
python3 -m pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: that is a failure here, not a pass" >&2
  exit 1
fi
exit "$rc"
