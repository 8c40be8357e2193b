#!/usr/bin/env bash
# Test accuracy of bnlab-cli over several seeds, for the README's table.
#   bench/accuracy.sh PRESET "SEEDS" [--set KEY=VALUE]...      e.g. bench/accuracy.sh bn-paper-mlp "1 2 3"
set -euo pipefail
cli=${BNLAB_CLI:-build/app/bnlab-cli}
preset=$1 seeds=$2; shift 2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for s in $seeds; do
  "$cli" train --preset "$preset" --set seed="$s" "$@" --out "$out/$s" --quiet
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(f\"seed $s: test accuracy {d['test_accuracy']:.4f}, {d['samples_per_second']:.0f} samples/s\")" "$out/$s/summary.json"
done
