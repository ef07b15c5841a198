#!/usr/bin/env bash
# Detection quality across generator seeds: generates demo data per seed, backtests the
# shipped rules with the labels, prints each seed's per-signal score.
# usage: scripts/seed-sweep.sh [SEED ...]   (default: 1 2 3 4 5 6)
#        WIDE=1 scripts/seed-sweep.sh ...     (the widened generator: demo generate --wide)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin forewarn
bin="${CARGO_TARGET_DIR:-target}/debug/forewarn"
seeds=("$@"); [ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3 4 5 6)
for seed in "${seeds[@]}"; do
  dir=$(mktemp -d)
  "$bin" demo generate "$dir" --seed "$seed" --end 2026-11-20T12:00:00Z ${WIDE:+--wide} 2>/dev/null
  echo "== seed $seed"
  "$bin" backtest --source "parquet:$dir" --from 2026-11-20T03:00:00Z --to 2026-11-20T12:00:00Z \
    --labels "$dir/labels.json" 2>&1 >/dev/null | sed -n '/^signal/,$p'
  rm -rf "$dir"
done
