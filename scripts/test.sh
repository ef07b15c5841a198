#!/usr/bin/env bash
# The whole test suite, as a new user and CI run it: installs what the tests need (the
# ClickHouse test server's virtualenv with chdb-core; idempotent), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-test-deps.sh
cargo test --locked "$@"
