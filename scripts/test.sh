#!/usr/bin/env bash
# The whole test suite, as a new user and CI run it: installs what the tests need (the
# ClickHouse test server's virtualenv with chdb-core; idempotent), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-test-deps.sh
# The ClickHouse test server's own protocol self-test (formats, compression, auth, errors).
"${FOREWARN_VENV:-.venv}/bin/python" tests/support/test_chserver.py
cargo test --locked "$@"
