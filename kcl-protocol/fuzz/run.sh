#!/usr/bin/env bash
# Runs the `inbound` fuzz target for N seconds (default 60), seeded with the daemon lines of the
# golden transcripts. Usage: kcl-protocol/fuzz/run.sh [SECONDS]. Needs nightly and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
corpus=corpus/inbound
mkdir -p "$corpus"
# One seed per golden transcript: its daemon lines, as the engine would read them.
for golden in ../tests/golden/*.txt; do
    sed -n 's/^> \{0,1\}//p' "$golden" | grep -v '^>' > "$corpus/seed-$(basename "$golden" .txt)" || true
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo +nightly fuzz run inbound "$corpus" -- -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048
