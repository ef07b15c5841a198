#!/usr/bin/env bash
# Installs what the integration tests need to run the real ClickHouse engine (chdb)
# behind tests/support/chserver.py, the real SMTP server (aiosmtpd) behind
# tests/support/loopback.py, and what bench/naive_pull.py needs.
#
#   scripts/install-test-deps.sh            # venv at <repo>/.venv
#   FOREWARN_VENV=/some/dir scripts/install-test-deps.sh
#
# Idempotent: creates the virtualenv only if it is missing and runs pip only if the
# packages do not import. Works from any directory. Only PyPI (and, if python3-venv is
# missing on Debian, the Debian archive) is contacted.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FOREWARN_VENV:-$REPO/.venv}"
PY="$VENV/bin/python"
REQUIRED=(chdb-core lz4 polars pyarrow)
# ClickHouse's CityHash128 (v1.0.2): lets chserver.py verify the checksums of the native
# compressed blocks the clickhouse crate sends (decompress=1) and answer compress=1.
# Optional: without it the server still works, it just does not verify checksums.
OPTIONAL=(clickhouse-cityhash)

say() { printf 'install-test-deps: %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@";
    elif command -v sudo >/dev/null 2>&1; then sudo "$@";
    else say "need root to run: $*"; return 1; fi
}

if ! command -v python3 >/dev/null 2>&1; then
    say "python3 not found; installing it with apt-get"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv
fi

if [ -x "$PY" ] && "$PY" -c 'import sys' >/dev/null 2>&1; then
    say "virtualenv $VENV already exists"
else
    say "creating virtualenv $VENV"
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" 2>/tmp/install-test-deps-venv.$$.log; then
        cat /tmp/install-test-deps-venv.$$.log >&2 || true
        say "python3 -m venv failed (ensurepip missing?); installing python3-venv with apt-get"
        rm -rf "$VENV"
        as_root apt-get update -qq
        pyver="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv \
            || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${pyver}-venv"
        python3 -m venv "$VENV"
    fi
    rm -f /tmp/install-test-deps-venv.$$.log
fi

if "$PY" -c 'import chdb, lz4, polars, pyarrow' >/dev/null 2>&1; then
    say "chdb-core, lz4, polars, pyarrow already installed"
else
    say "pip install ${REQUIRED[*]} (chdb-core is a ~180 MB wheel)"
    "$PY" -m pip install --disable-pip-version-check -q "${REQUIRED[@]}"
    "$PY" -c 'import chdb, lz4, polars, pyarrow'
    say "installed ${REQUIRED[*]}"
fi

# The loopback notification fakes (tests/support/loopback.py) run a real SMTP server, and make
# a private CA and server certificate for its STARTTLS and TLS ports.
if "$PY" -c 'import aiosmtpd, cryptography' >/dev/null 2>&1; then
    say "aiosmtpd, cryptography already installed"
else
    say "pip install aiosmtpd cryptography"
    "$PY" -m pip install --disable-pip-version-check -q aiosmtpd cryptography
    "$PY" -c 'import aiosmtpd, cryptography'
    say "installed aiosmtpd cryptography"
fi

# The notebooks (notebooks/*.ipynb, executed by tests/notebooks.rs): clickhouse-connect for
# the queries, nbclient + ipykernel to run them top to bottom.
if "$PY" -c 'import clickhouse_connect, nbclient, nbformat, ipykernel' >/dev/null 2>&1; then
    say "clickhouse-connect, nbclient, ipykernel already installed"
else
    say "pip install clickhouse-connect nbclient nbformat ipykernel"
    "$PY" -m pip install --disable-pip-version-check -q clickhouse-connect nbclient nbformat ipykernel
    "$PY" -c 'import clickhouse_connect, nbclient, nbformat, ipykernel'
    say "installed clickhouse-connect nbclient nbformat ipykernel"
fi

# The generated Kubernetes manifests (cronjobs/, tests/manifests.rs) are validated against the
# Kubernetes OpenAPI schemas it ships (offline, no cluster needed).
KUBERNETES_VALIDATE=kubernetes-validate==1.37.0
if "$PY" -c 'import kubernetes_validate' >/dev/null 2>&1; then
    say "kubernetes-validate already installed"
else
    say "pip install $KUBERNETES_VALIDATE"
    "$PY" -m pip install --disable-pip-version-check -q "$KUBERNETES_VALIDATE"
    "$PY" -c 'import kubernetes_validate'
    say "installed $KUBERNETES_VALIDATE"
fi

# The daily report's rendering test (tests/report.rs) screenshots the HTML in headless
# Chromium: Debian's package (/usr/bin/chromium), installed once.
if command -v chromium >/dev/null 2>&1; then
    say "chromium already installed ($(chromium --version 2>/dev/null | head -1))"
else
    say "apt-get install chromium (for the report's rendering test)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
    command -v chromium >/dev/null
    say "installed $(chromium --version 2>/dev/null | head -1)"
fi

if "$PY" -c 'import clickhouse_cityhash.cityhash' >/dev/null 2>&1; then
    say "clickhouse-cityhash already installed"
elif "$PY" -m pip install --disable-pip-version-check -q "${OPTIONAL[@]}" \
        && "$PY" -c 'import clickhouse_cityhash.cityhash' >/dev/null 2>&1; then
    say "installed ${OPTIONAL[*]}"
else
    say "warning: could not install ${OPTIONAL[*]}; chserver.py will not verify block checksums"
fi

say "ready: $PY ($("$PY" -c 'import chdb; print("chdb", chdb.__version__)'))"
say "start the test server with: $PY $REPO/tests/support/chserver.py --port 0 --data-dir DIR"
