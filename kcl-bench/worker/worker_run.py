"""One whole-worker run: start `kcl-bootstrap -p FILE -e` (which exec's the JVM, so its PID is the
JVM's), sample its process tree, poll the lease table until every shard is checkpointed at its
last record (or the time limit passes), stop it, and turn the samples into figures.
"""
import os
import signal
import subprocess
import time

import daemon_log
import jvm_probe
import memory_cgroup
import proc_sampler

POLL_SECS = 0.25  # lease-table poll period: a Scan of <= 48 items costs moto a few ms
STOP_TIMEOUT_SECS = 15
# A graceful stop waits for the KCL's shutdown (shutdownGraceMillis 20000 in local.properties)
# and the JVM's exit work (dumping an AppCDS archive); past this, SIGKILL.
GRACEFUL_STOP_SECS = 60


def render_properties(template, values):
    """The properties template with `key = value` lines replaced (and missing keys appended)."""
    out, seen = [], set()
    for line in template.splitlines():
        key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
        if key in values:
            out.append(f"{key} = {values[key]}")
            seen.add(key)
        else:
            out.append(line)
    out.extend(f"{key} = {value}" for key, value in values.items() if key not in seen)
    return "\n".join(out) + "\n"


def sample_at(samples, when):
    """The first sample taken at or after `when` (the last one if none is)."""
    for sample in samples:
        if sample["time"] >= when:
            return sample
    return samples[-1]


def cores_between(samples, start, end, ticks_of):
    """Average cores used between two times by what `ticks_of(sample)` counts."""
    first, last = sample_at(samples, start), sample_at(samples, end)
    elapsed = last["time"] - first["time"]
    if elapsed <= 0:
        return None
    before, after = ticks_of(first), ticks_of(last)
    if before is None or after is None:
        return None
    return (after - before) / proc_sampler.TICKS_PER_SECOND / elapsed


def peak_cores_1s(samples, start, end, ticks_of):
    """The highest average over any window of >= 1 s between two times."""
    window = [s for s in samples if start <= s["time"] <= end]
    best = None
    for i, first in enumerate(window):
        for last in window[i + 1:]:
            if last["time"] - first["time"] >= 1.0:
                before, after = ticks_of(first), ticks_of(last)
                if before is not None and after is not None:
                    cores = (after - before) / proc_sampler.TICKS_PER_SECOND / (last["time"] - first["time"])
                    best = cores if best is None else max(best, cores)
                break
    return best


def machine_cores(sample_a, sample_b):
    total = sample_b["machine_total_ticks"] - sample_a["machine_total_ticks"]
    busy = sample_b["machine_busy_ticks"] - sample_a["machine_busy_ticks"]
    return None if total <= 0 else busy / total * os.cpu_count()


def run_worker(spec):
    """Runs one worker. `spec` holds: bootstrap, bootstrap_args, properties, log, env, stack,
    stack_pids, application, last_sequence, time_limit_secs, sample_secs, graceful_stop (SIGTERM
    first: the JVM runs its exit work, e.g. writing kcl-bootstrap's AppCDS archive), and optionally
    log_configuration (a logback file for the daemon), memory_limit_mib (the worker runs in a
    memory cgroup of that limit) and nmt (read Native Memory Tracking at the end). Returns the
    figures."""
    cgroup = None
    if spec.get("memory_limit_mib"):
        cgroup = memory_cgroup.MemoryCgroup(spec["application"], spec["memory_limit_mib"])
    try:
        return _run_worker(spec, cgroup)
    finally:
        if cgroup is not None:
            cgroup.remove()


def _run_worker(spec, cgroup):
    stack = spec["stack"]
    log_file = open(spec["log"], "wb")
    logging = ["-l", spec["log_configuration"]] if spec.get("log_configuration") else []
    started = time.time()
    process = subprocess.Popen(
        [spec["bootstrap"], "-p", spec["properties"], "-e", *logging, *spec["bootstrap_args"]],
        stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=spec["env"],
        start_new_session=True, preexec_fn=None if cgroup is None else cgroup.enter)
    log_file.close()
    sampler = proc_sampler.TreeSampler(process.pid, spec["stack_pids"], spec["sample_secs"])
    sampler.start()
    last = spec["last_sequence"]
    done_at, shards_done, exited, exited_at = None, 0, None, None
    deadline = started + spec["time_limit_secs"]
    try:
        while time.time() < deadline:
            if process.poll() is not None:
                exited, exited_at = process.returncode, time.time()
                break
            checkpoints = stack.checkpoints(spec["application"])
            shards_done = sum(1 for shard, seq in last.items() if checkpoints.get(shard) == seq)
            if shards_done == len(last):
                done_at = time.time()
                break
            time.sleep(POLL_SECS)
    finally:
        sampler.stop()
        # After the sampler: jcmd's attach and its own JVM are in no figure.
        probes = {}
        if process.poll() is None:
            probes["jvm_max_heap_kib"] = jvm_probe.max_heap_kib(process.pid)
            if spec.get("nmt"):
                probes["nmt_committed_kib"] = jvm_probe.native_memory_kib(process.pid)
        stop_worker(process, spec.get("graceful_stop", False))
    if cgroup is not None:
        probes.update(cgroup.figures())
    if exited is not None and spec.get("allow_stall"):
        # KCL 3.1.3 MultiLangProtocol halts the JVM (Runtime.halt(1)) when a child's status does not
        # come within timeoutInSeconds: with a starved pool, that is how the stall ends (and the
        # kernel's OOM killer, SIGKILL, under a memory limit).
        result = figures(spec, sampler, started, done_at, shards_done)
        result.update({"exit_status": exited, "exited_after_s": exited_at - started}, **probes)
        return result
    if exited is not None:
        tail = open(spec["log"], encoding="utf-8", errors="replace").read()[-3000:]
        raise RuntimeError(f"the worker exited with status {exited} before the drain ended; "
                           f"log {spec['log']}:\n{tail}")
    result = figures(spec, sampler, started, done_at, shards_done)
    result.update(probes)
    return result


def stop_worker(process, graceful):
    """Stops the worker's session (the JVM and its children). Measured runs are over once drained:
    SIGKILL at once (a graceful stop would wait out shutdownGraceMillis and measure nothing)."""
    if graceful and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=GRACEFUL_STOP_SECS)
        except subprocess.TimeoutExpired:
            print(f"worker-bench: worker {process.pid} still running {GRACEFUL_STOP_SECS} s after SIGTERM; SIGKILL",
                  flush=True)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=STOP_TIMEOUT_SECS)
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"worker {process.pid} still running {STOP_TIMEOUT_SECS} s after SIGKILL") from error


def figures(spec, sampler, started, done_at, shards_done):
    samples = sampler.samples
    if not samples:
        raise RuntimeError(f"no /proc sample of the worker (log {spec['log']})")
    hz = proc_sampler.TICKS_PER_SECOND
    times = daemon_log.scheduler_times(spec["log"])
    boot = proc_sampler.boot_time()
    first_child = (min(sampler.child_starts.values()) / hz + boot) if sampler.child_starts else None
    end = done_at if done_at is not None else samples[-1]["time"]
    result = {
        "timed_out": done_at is None,  # not drained: the time limit, or the JVM halted
        "shards_done": shards_done,
        "shards": len(spec["last_sequence"]),
        "jvm_peak_rss_kib": max(s["jvm_rss_kib"] for s in samples),
        "jvm_peak_pss_kib": max(s["jvm_pss_kib"] for s in samples),
        "jvm_cpu_s": samples[-1]["jvm_cpu_ticks"] / hz,
        "children_peak_rss_kib": max(s["children_rss_kib"] for s in samples),
        "children_peak_pss_kib": max(s["children_pss_kib"] for s in samples),
        "children_cpu_s": samples[-1]["children_cpu_ticks"] / hz,
        "children_seen": len(sampler.child_starts),
        "to_first_initialize_s": None if first_child is None else first_child - started,
        "to_scheduler_run_s": None if times["scheduler_run"] is None else times["scheduler_run"] - started,
        "to_scheduler_s": None if times["scheduler_running"] is None else times["scheduler_running"] - started,
        "lease_wait_s": daemon_log.lease_wait_secs(times),
        "shard_sync_idle_s": daemon_log.shard_sync_idle_secs(times),
        "to_checkpointed_s": None if done_at is None else done_at - started,
        "drain_s": None if done_at is None or first_child is None else done_at - first_child,
        "status_timeouts": times["status_timeouts"],
        "samples": len(samples),
        "sampler_cpu_s": sampler.sampler_cpu,
    }
    if first_child is not None and end > first_child:
        drain = {}
        for name in spec["stack_pids"]:
            drain[name + "_cores"] = cores_between(samples, first_child, end,
                                                   lambda s, n=name: s["others_cpu_ticks"].get(n))
            drain[name + "_peak_1s_cores"] = peak_cores_1s(samples, first_child, end,
                                                           lambda s, n=name: s["others_cpu_ticks"].get(n))
        drain["jvm_cores"] = cores_between(samples, first_child, end, lambda s: s["jvm_cpu_ticks"])
        drain["children_cores"] = cores_between(samples, first_child, end, lambda s: s["children_cpu_ticks"])
        drain["machine_cores"] = machine_cores(sample_at(samples, first_child), sample_at(samples, end))
        result["during_drain"] = drain
    return result
