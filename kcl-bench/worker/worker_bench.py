#!/usr/bin/env python3
"""kcl-bench --worker: the whole-worker benchmark with the real MultiLangDaemon on the local stack.

One experiment: start a local stack of its own (free ports, its own run directory), make a stream
of N shards, put a fixed volume of records into it before any worker starts (so every variant
reads the same contents from TRIM_HORIZON), then run, round after round, one worker per
(child kind, JVM variant) in alternating order, each under a fresh application name (a fresh
lease table), and append every run's figures to a JSON results file (rendered into BENCHMARKS.md
by `worker-report`). Run through `scripts/bench --worker`, which builds and installs what it needs.

A JVM variant is a name and a list of extra kcl-bootstrap arguments:
    --variant plain=--jvm-defaults=none   --variant tuned=   --variant serial=--jvm-arg=-XX:+UseSerialGC
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import aws_stack  # noqa: E402
import worker_run  # noqa: E402

CHILD_LABELS = {
    "kcl": "kcl-protocol (ours)",
    "python": "amazon_kclpy 3.2.0",
    "node": "aws-kcl 2.3.2",
}


def child_command(child, repo, bin_dir):
    """The daemon's executableName for a child kind. The daemon splits it on spaces (KCL 3.1.3
    MultiLangRecordProcessorFactory: command.split(" +")), so no path may hold one."""
    anchors = os.path.join(repo, "kcl-bench/anchors")
    if child == "kcl":
        parts = [os.path.join(bin_dir, "bench-child-kcl")]
    elif child == "python":
        parts = [os.path.join(repo, ".local/bench-venv/bin/python"), os.path.join(anchors, "kclpy_child.py")]
    elif child == "node":
        parts = [shutil.which("node") or "node", os.path.join(anchors, "aws_kcl_child.js")]
    else:
        raise SystemExit(f"worker-bench: unknown child {child!r} (kcl, python, node)")
    for part in parts:
        if " " in part:
            raise SystemExit(f"worker-bench: {part!r} holds a space, which executableName cannot")
        if not os.path.exists(part):
            raise SystemExit(f"worker-bench: {part} is missing (scripts/bench --worker installs it)")
    return " ".join(parts)


def parse_variant(text):
    name, _, args = text.partition("=")
    if not name:
        raise argparse.ArgumentTypeError(f"--variant {text!r}: expected NAME=ARGS")
    return name, args.split()


def order_for_round(combos, round_index):
    """Alternating order: each round starts one combination later, odd rounds run backwards."""
    shift = round_index % len(combos)
    rotated = combos[shift:] + combos[:shift]
    return rotated[::-1] if round_index % 2 else rotated


def load_average():
    with open("/proc/loadavg", encoding="ascii") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def java_version(java="java"):
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
        return out.stderr.splitlines()[0] if out.stderr else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def variant_java(args):
    """The java a variant's kcl-bootstrap arguments name (--java=PATH, -j PATH), else None."""
    for i, arg in enumerate(args):
        if arg.startswith("--java="):
            return arg.split("=", 1)[1]
        if arg in ("-j", "--java") and i + 1 < len(args):
            return args[i + 1]
    return None


# kcl-bootstrap's default logback with one logger more: HierarchicalShardSyncer's "Newly created
# leases" (INFO) marks the start of the first shard sync's idle (daemon_log.py). Every variant runs
# with this file, so the JVMs compared log the same lines.
SHARD_SYNCER_LOGGER = '  <logger name="software.amazon.kinesis.leases.HierarchicalShardSyncer" level="INFO"/>\n'


def write_log_configuration(repo, work_dir):
    default = open(os.path.join(repo, "kcl-bootstrap/src/default-logback.xml"), encoding="utf-8").read()
    if "<root " not in default:
        raise SystemExit("worker-bench: kcl-bootstrap/src/default-logback.xml has no <root> element")
    path = os.path.join(work_dir, "bench-logback.xml")
    with open(path, "w", encoding="utf-8") as out:
        out.write(default.replace("  <root ", SHARD_SYNCER_LOGGER + "\n  <root ", 1))
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--bootstrap", required=True, help="the kcl-bootstrap binary")
    parser.add_argument("--bin-dir", required=True, help="directory holding bench-child-kcl")
    parser.add_argument("--results", required=True, help="JSON file the experiment is appended to")
    parser.add_argument("--work-dir", required=True, help="stack run directory, logs, properties")
    parser.add_argument("--name", default="", help="experiment name in the report")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--record-bytes", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--children", default="kcl,python,node")
    parser.add_argument("--variant", action="append", type=parse_variant,
                        help="NAME=ARGS: extra kcl-bootstrap arguments (space-separated); repeatable")
    parser.add_argument("--time-limit-secs", type=float, default=180)
    parser.add_argument("--allow-timeout", action="store_true",
                        help="a run that does not drain (time limit, or the JVM halting) is a result (the stall runs), not a failure")
    parser.add_argument("--sample-secs", type=float, default=0.15)
    parser.add_argument("--memory-limit-mib", type=int, default=0,
                        help="run each worker (the JVM and its children) in a memory cgroup of this limit")
    parser.add_argument("--targets", action="store_true",
                        help="the report checks issue 9's targets on this experiment (its headline configuration)")
    parser.add_argument("--nmt", action="store_true",
                        help="read the JVM's Native Memory Tracking summary at the end of each run (the variants "
                             "must pass --jvm-arg=-XX:NativeMemoryTracking=summary)")
    parser.add_argument("--warmup", action="store_true",
                        help="first one unmeasured run per JVM variant (kcl child), stopped with SIGTERM so the "
                             "JVM's exit work runs: kcl-bootstrap's AppCDS archive is then there for every measured run")
    args = parser.parse_args()
    variants = args.variant or [("default", [])]
    children = [c for c in args.children.split(",") if c]
    commands = {c: child_command(c, args.repo, args.bin_dir) for c in children}

    os.makedirs(args.work_dir, exist_ok=True)
    # run_one reads every run's settings from args; the logback file is one of them.
    args.log_configuration = write_log_configuration(args.repo, args.work_dir)
    stack_dir = os.path.join(args.work_dir, "stack")
    template = open(os.path.join(args.repo, "properties/local.properties"), encoding="utf-8").read()
    experiment = {
        "name": args.name or f"{args.shards} shards",
        "shards": args.shards, "records": args.records, "record_bytes": args.record_bytes,
        "rounds": args.rounds, "children": children,
        "child_labels": {c: CHILD_LABELS[c] for c in children},
        "variants": [{"name": n, "args": a, "java": java_version(variant_java(a) or "java")}
                     for n, a in variants],
        "memory_limit_mib": args.memory_limit_mib or None, "targets": args.targets,
        "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": load_average(), "cpus": os.cpu_count(), "java": java_version(),
        "time_limit_secs": args.time_limit_secs, "warmup": args.warmup, "runs": [],
    }
    try:
        endpoints = aws_stack.stack_up(args.repo, stack_dir)
        stack = aws_stack.Stack(endpoints)
        pids = aws_stack.stack_pids(stack_dir)
        run_id = time.strftime("%H%M%S", time.gmtime())
        stream = f"kcl-bench-worker-{run_id}"
        shards = stack.create_stream(stream, args.shards)
        last, produce_secs = stack.produce(stream, shards, args.records, args.record_bytes)
        if len(last) != args.shards:
            raise RuntimeError(f"records reached {len(last)} of {args.shards} shards")
        experiment["produce_s"] = produce_secs
        log(f"stream {stream}: {args.records} x {args.record_bytes} B over {args.shards} shards in {produce_secs:.1f} s")
        env = dict(os.environ)
        env.update({k: v for k, v in endpoints.items() if k.startswith("AWS_")})
        if args.warmup:
            for variant, variant_args in variants:
                run_one(args, experiment, stack, pids, env, template, stream, last,
                        child_command("kcl", args.repo, args.bin_dir), "kcl", variant, variant_args,
                        -1, run_id, warmup=True)
        combos = [(c, v) for v in variants for c in children]
        for round_index in range(args.rounds):
            for child, (variant, variant_args) in order_for_round(combos, round_index):
                run_one(args, experiment, stack, pids, env, template, stream, last, commands[child],
                        child, variant, variant_args, round_index, run_id)
    except BaseException:
        # What ran is kept (marked incomplete) for the post-mortem; the failure still fails.
        experiment["incomplete"] = True
        raise
    finally:
        aws_stack.stack_down(args.repo, stack_dir)
        experiment["load_after"] = load_average()
        append_results(args.results, experiment)
    timed_out = [r for r in experiment["runs"] if r["timed_out"]]
    if timed_out and not args.allow_timeout:
        raise SystemExit(f"worker-bench: {len(timed_out)} run(s) did not drain within {args.time_limit_secs} s")


def run_one(args, experiment, stack, pids, env, template, stream, last, command, child, variant,
            variant_args, round_index, run_id, warmup=False):
    """One run; a warm-up run is logged, stopped gracefully and kept out of the results."""
    kind = "warmup" if warmup else str(len(experiment["runs"]))
    application = f"kcl-bench-{run_id}-{kind}-{child}-{variant}"
    base = os.path.join(args.work_dir, application)
    properties = base + ".properties"
    with open(properties, "w", encoding="utf-8") as out:
        out.write(worker_run.render_properties(template, {
            "executableName": command, "streamName": stream, "applicationName": application,
            "workerId": application, "kinesisEndpoint": stack.endpoints["KINESIS_ENDPOINT"],
            "dynamoDBEndpoint": stack.endpoints["DYNAMODB_ENDPOINT"]}))
    stage = "warm-up (not measured)" if warmup else f"round {round_index + 1}/{args.rounds}"
    log(f"{stage}: {child} on JVM {variant} {' '.join(variant_args)}")
    figures = worker_run.run_worker({
        "bootstrap": args.bootstrap, "bootstrap_args": variant_args, "properties": properties,
        "log": base + ".log", "env": env, "stack": stack, "stack_pids": pids,
        "application": application, "last_sequence": last,
        "time_limit_secs": args.time_limit_secs, "sample_secs": args.sample_secs,
        "graceful_stop": warmup, "allow_stall": args.allow_timeout,
        "log_configuration": args.log_configuration, "nmt": args.nmt,
        # The warm-up makes the archive; the limit is for the measured runs.
        "memory_limit_mib": None if warmup else args.memory_limit_mib})
    stack.delete_application_tables(application)
    if warmup:
        log(f"  warm-up drained: {figures['shards_done']}/{figures['shards']} shards")
        return
    figures.update({"child": child, "variant": variant, "round": round_index + 1,
                    "log": os.path.relpath(base + ".log", args.repo)})
    experiment["runs"].append(figures)
    drain = figures.get("during_drain", {})
    log("  " + ", ".join([
        f"JVM peak RSS {figures['jvm_peak_rss_kib'] / 1024:.0f} MiB",
        f"JVM CPU {figures['jvm_cpu_s']:.1f} s",
        f"children peak RSS {figures['children_peak_rss_kib'] / 1024:.0f} MiB",
        f"children CPU {figures['children_cpu_s']:.2f} s",
        f"to Scheduler.run {fmt(figures['to_scheduler_run_s'])} s",
        f"to worker loop {fmt(figures['to_scheduler_s'])} s",
        f"lease wait {fmt(figures['lease_wait_s'])} s",
        f"shard-sync idle {fmt(figures['shard_sync_idle_s'])} s",
        f"to checkpointed {fmt(figures['to_checkpointed_s'])} s",
        f"drain {fmt(figures['drain_s'])} s",
        f"kinesis-local {fmt(drain.get('kinesis-local_cores'))} cores",
        f"shards done {figures['shards_done']}/{figures['shards']}",
        f"status timeouts {figures['status_timeouts']}",
        f"JVM exit status {figures.get('exit_status', '-')}",
        f"max heap {fmt_mib(figures.get('jvm_max_heap_kib'))} MiB"]
        + ([f"cgroup peak {fmt_mib(figures.get('cgroup_peak_kib'))} MiB of {args.memory_limit_mib}, "
            f"OOM kills {figures.get('cgroup_oom_kills')}"] if args.memory_limit_mib else [])
        + ([f"NMT total {fmt_mib((figures.get('nmt_committed_kib') or {}).get('Total'))} MiB"] if args.nmt else [])))


def fmt(value):
    return "-" if value is None else f"{value:.1f}"


def fmt_mib(kib):
    return "-" if kib is None else f"{kib / 1024:.0f}"


def append_results(path, experiment):
    existing = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as results:
            existing = json.load(results)
    existing.append(experiment)
    with open(path + ".tmp", "w", encoding="utf-8") as results:
        json.dump(existing, results, indent=1)
    os.replace(path + ".tmp", path)


def log(message):
    print(f"worker-bench: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
