#!/usr/bin/env bash
# kcl-bench/worker/bench_worker.sh: `scripts/bench --worker`, the whole-worker benchmark (issue 9).
# scripts/bench has installed the pinned Python and Node SDKs before it runs this.
#
#   scripts/bench --worker                 headline: 8 shards, 10,000 records of 1 KB, 3 rounds of
#                                          the three child kinds x two JVM variants; then the
#                                          Native Memory Tracking run; Java 25; the memory limits; the
#                                          maxActiveThreads stall run; 32 shards, 1 round; the shard-count
#                                          sweep; writes the worker section of BENCHMARKS.md and
#                                          docs/bench-worker.svg
#   --rounds N                             rounds of the headline (default 3)
#   --shards N                             shards of the headline (default 8)
#   --records N / --record-bytes N         the volume (default 10000 x 1024)
#   --large-shards N / --large-rounds N    the larger experiment (default 32 x 1; 0 shards skips it)
#   --children LIST                        child kinds (default kcl,python,node)
#   --variant NAME=ARGS                    a JVM variant: extra kcl-bootstrap arguments, space-separated
#                                          (repeatable; replaces the default pair plain=--jvm-defaults=none
#                                          and tuned=). "plain" is the baseline. The way to measure a
#                                          candidate flag set: --variant 'g1=--jvm-defaults=none
#                                          --jvm-arg=-XX:+UseG1GC --jvm-arg=-Xmx256m'.
#   --threads N                            maxActiveThreads of the stall run (default 9; 0 skips it)
#   --nmt / --no-nmt                       the Native Memory Tracking run (default on): 8 shards, the kcl
#                                          child, plain and tuned with -XX:NativeMemoryTracking=summary
#   --java25 PATH|none                     a second Java for plain and tuned (default: the first
#                                          /usr/lib/jvm/*25*/bin/java, none if there is none)
#   --memory-limits "MIB ..."              each worker in a memory cgroup of that limit, plain and tuned,
#                                          the kcl child (default "384 256 192"; "" skips; needs root or a
#                                          delegated cgroup)
#   --scale "N ..."                        more shard counts for the kcl child, plain and tuned, 1 round
#                                          (default "16 48"; "" skips)
#   --smoke                                2 shards, 200 records, 1 round, the kcl child, one variant;
#                                          writes only under .local/bench-worker (a check that it runs)
#
# Every run's figures go to .local/bench-worker/<run>/results.json first; the report is rendered from
# that file (re-render a run: kcl-bench-worker-report --results FILE --markdown BENCHMARKS.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
log() { printf 'bench --worker: %s\n' "$*" >&2; }

rounds=3 shards=8 records=10000 record_bytes=1024 large_shards=32 large_rounds=1
children="kcl,python,node" threads=9 smoke=0 nmt=1 java25=auto memory_limits="384 256 192" scale="16 48"
variants=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --shards) shards="$2"; shift 2 ;;
        --records) records="$2"; shift 2 ;;
        --record-bytes) record_bytes="$2"; shift 2 ;;
        --large-shards) large_shards="$2"; shift 2 ;;
        --large-rounds) large_rounds="$2"; shift 2 ;;
        --children) children="$2"; shift 2 ;;
        --variant) variants+=("$2"); shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --nmt) nmt=1; shift ;;
        --no-nmt) nmt=0; shift ;;
        --java25) java25="$2"; shift 2 ;;
        --memory-limits) memory_limits="$2"; shift 2 ;;
        --scale) scale="$2"; shift 2 ;;
        --smoke) smoke=1; shift ;;
        *) log "unknown flag $1 (see kcl-bench/worker/bench_worker.sh)"; exit 2 ;;
    esac
done

"$ROOT/scripts/local-stack" install >&2
log "building release binaries (kcl-bench, kcl-bootstrap)"
(cd "$ROOT" && cargo build --release --quiet -p kcl-bench -p kcl-bootstrap)
BOOTSTRAP="$TARGET/release/kcl-bootstrap"
# Fills kcl-bootstrap's jar cache (downloads on first use), so no run measures a download.
(cd "$ROOT" && "$BOOTSTRAP" -p properties/local.properties --no-validate --print-classpath >/dev/null)

# The two JVMs of the issue: plain `java` (what the official bootstraps run) and kcl-bootstrap's
# default (tuned). Candidate flag sets are measured with --variant NAME="--jvm-defaults=none
# --jvm-arg=..." (or on top of the defaults, without --jvm-defaults=none).
if ! "$BOOTSTRAP" --help 2>/dev/null | grep -q -- '--jvm-defaults'; then
    log "$BOOTSTRAP has no --jvm-defaults: the plain/tuned comparison needs it (issue 9)"
    exit 1
fi
default_variants=("plain=--jvm-defaults=none" "tuned=")
note="\`plain\` is \`--jvm-defaults none\` (plain \`java\`, what the official bootstraps run); \`tuned\` is kcl-bootstrap's default (\`--jvm-defaults tuned\`: its measured JVM options and the AppCDS archive, docs/bootstrap.md)."
[ ${#variants[@]} -gt 0 ] || variants=("${default_variants[@]}")

RUN_DIR="$ROOT/.local/bench-worker/$(date -u +%Y%m%d-%H%M%S)"
RESULTS="$RUN_DIR/results.json"
mkdir -p "$RUN_DIR"
PY="$ROOT/.local/venv/bin/python"  # the stack's venv: it has boto3 (moto depends on it)

# An experiment with runs that did not drain still has its figures in results.json (the 32-shard
# runs of 2026-12-02 did not drain while other tests loaded the machine): the report is written
# anyway, and the command fails at the end.
undrained=0
experiment() {
    local name="$1"; shift
    local variant_flags=()
    for v in "${variants_here[@]}"; do variant_flags+=(--variant "$v"); done
    log "experiment: $name"
    "$PY" "$ROOT/kcl-bench/worker/worker_bench.py" --repo "$ROOT" --bootstrap "$BOOTSTRAP" \
        --bin-dir "$TARGET/release" --results "$RESULTS" --work-dir "$RUN_DIR/$name" --name "$name" \
        "${variant_flags[@]}" "$@" || { log "experiment $name failed or had runs that did not drain (see above)"; undrained=1; }
}

command_line="scripts/bench --worker${*:+ $*}"
if [ "$smoke" = 1 ]; then
    variants_here=("${variants[@]: -1}")
    experiment smoke --shards 2 --records 200 --rounds 1 --children kcl --time-limit-secs 120
    "$TARGET/release/kcl-bench-worker-report" --results "$RESULTS" --markdown "$RUN_DIR/BENCHMARKS.md" \
        --svg "$RUN_DIR/bench-worker.svg" --variants-note "$note" --command-line "scripts/bench --worker --smoke"
    [ "$undrained" = 0 ] || { log "smoke run did not drain: $RUN_DIR"; exit 1; }
    log "smoke run OK: $RUN_DIR"
    exit 0
fi

variants_here=("${variants[@]}")
# The warm-up runs leave kcl-bootstrap's AppCDS archive (when its defaults make one) in the cache
# for every measured run; the later experiments use the same JVM options, so the same archive.
experiment "headline" --shards "$shards" --records "$records" --record-bytes "$record_bytes" \
    --rounds "$rounds" --children "$children" --warmup --targets
if [ "$nmt" = 1 ]; then
    # Where the JVM's memory is. The option is part of the archive's key: a warm-up of its own.
    nmt_flag="--jvm-arg=-XX:NativeMemoryTracking=summary"
    variants_here=("plain-nmt=--jvm-defaults=none $nmt_flag" "tuned-nmt=$nmt_flag")
    experiment "nmt" --shards "$shards" --records "$records" --record-bytes "$record_bytes" \
        --rounds 1 --children kcl --warmup --nmt
fi
if [ "$java25" = auto ]; then
    java25="$(ls -d /usr/lib/jvm/*25*/bin/java 2>/dev/null | head -n 1)"
fi
if [ -n "$java25" ] && [ "$java25" != none ]; then
    case "$java25" in *" "*) log "--java25 $java25: a path with a space cannot be a kcl-bootstrap --java=PATH variant"; exit 2 ;; esac
    variants_here=("plain=--jvm-defaults=none --java=$java25" "tuned=--java=$java25")
    experiment "java25" --shards "$shards" --records "$records" --record-bytes "$record_bytes" \
        --rounds 1 --children kcl --warmup --targets
fi
for limit in $memory_limits; do
    # A container's limit: the JVM sizes its default heap from it (MaxRAMPercentage 25), the kernel
    # reclaims and then kills past it. A killed worker is a result (--allow-timeout).
    variants_here=("${variants[@]}")
    experiment "limit-$limit" --shards "$shards" --records "$records" --record-bytes "$record_bytes" \
        --rounds 1 --children kcl --memory-limit-mib "$limit" --allow-timeout
done
if [ "$threads" -gt 0 ]; then
    # maxActiveThreads (issue 9 part 3): a fixed pool too small for the shards against the default
    # (<= 0: unbounded), both on the tuned JVM, the kcl child. A stalled run ends at the time limit
    # or when the daemon halts the JVM (a child status not back within timeoutInSeconds, 60 here).
    variants_here=("unbounded=" "maxActiveThreads-$threads=--set maxActiveThreads=$threads")
    experiment "maxActiveThreads" --shards "$shards" --records "$records" --record-bytes "$record_bytes" \
        --rounds 1 --children kcl --time-limit-secs 120 --allow-timeout
fi
# The larger shard counts last: the optional part when time is short (--large-shards 0 and
# --scale "" skip them). Not draining is a result at these counts (the emulators' limit).
if [ "$large_shards" -gt 0 ]; then
    variants_here=("${variants[@]}")
    experiment "larger" --shards "$large_shards" --records "$records" --record-bytes "$record_bytes" \
        --rounds "$large_rounds" --children "$children" --allow-timeout --time-limit-secs 240
fi
for count in $scale; do
    variants_here=("${variants[@]}")
    experiment "scale-$count" --shards "$count" --records "$records" --record-bytes "$record_bytes" \
        --rounds 1 --children kcl --allow-timeout --time-limit-secs 240
done
mkdir -p "$ROOT/docs"
"$TARGET/release/kcl-bench-worker-report" --results "$RESULTS" --markdown "$ROOT/BENCHMARKS.md" \
    --svg "$ROOT/docs/bench-worker.svg" --variants-note "$note" --command-line "$command_line"
log "results: $RESULTS"
[ "$undrained" = 0 ] || { log "some runs did not drain: the report shows them as stalled"; exit 1; }
