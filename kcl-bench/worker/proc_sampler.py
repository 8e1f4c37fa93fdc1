"""Samples a worker's process tree from /proc on a thread: memory (RSS and PSS from
/proc/PID/smaps_rollup) and CPU (utime + stime from /proc/PID/stat), for the JVM and for the sum
over its children, plus the CPU of other processes of interest (the emulators) and of the machine.

PSS splits shared pages (the interpreter of 8 Python children, the JVM's shared libraries) among
the processes that map them, so the sum of the children's PSS is what they cost together; their
RSS sum counts shared pages once per child.
"""
import os
import threading
import time

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def read_stat(pid):
    """(ppid, cpu ticks, start time in ticks since boot) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat_file:
            text = stat_file.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text[text.rindex(")") + 2:].split()
    ppid = int(fields[1])
    utime, stime = int(fields[11]), int(fields[12])
    start = int(fields[19])
    return ppid, utime + stime, start


def read_task_cpu_s(pid):
    """On-CPU seconds of a process's live threads from /proc/PID/task/*/schedstat (nanoseconds):
    /proc/PID/stat counts in 10 ms ticks, which rounds each of 32 idle-ish children to 0. Threads
    that already exited are not counted (the children keep theirs for the whole run)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as schedstat:
                total += int(schedstat.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def read_memory_kib(pid):
    """(RSS, PSS) of a process in KiB from smaps_rollup, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            text = rollup.read()
    except OSError:
        return None
    rss = pss = 0
    for line in text.splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def machine_ticks():
    """(busy, total) CPU ticks of the whole machine, from the first line of /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat_file:
        values = [int(v) for v in stat_file.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user
    return total - idle, total


def descendants(root):
    """PIDs of every process below `root` (not `root` itself)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = read_stat(int(entry))
            if stat:
                children.setdefault(stat[0], []).append(int(entry))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


class TreeSampler:
    """Samples `root` (the JVM) and its descendants every `interval` seconds until stopped."""

    def __init__(self, root, others, interval):
        self.root = root
        self.others = others  # {name: pid}, e.g. the emulators
        self.interval = interval
        self.samples = []  # dicts, see sample()
        self.child_cpu_s = {}  # pid -> last on-CPU seconds seen (children that exit still count)
        self.child_starts = {}  # pid -> start time (ticks since boot)
        self.sampler_cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        # A sample takes milliseconds; 10 s means the thread is stuck reading /proc.
        self._thread.join(timeout=10)
        if self._thread.is_alive():
            raise RuntimeError("the /proc sampler did not stop within 10 s")

    def _run(self):
        cpu_before = time.thread_time()
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)
        self.sampler_cpu = time.thread_time() - cpu_before

    def sample(self):
        now = time.time()
        root_stat = read_stat(self.root)
        root_memory = read_memory_kib(self.root)
        if root_stat is None or root_memory is None:
            return
        child_rss = child_pss = 0
        live = 0
        for pid in descendants(self.root):
            stat = read_stat(pid)
            memory = read_memory_kib(pid)
            if stat is None or memory is None:
                continue
            live += 1
            cpu = read_task_cpu_s(pid)
            self.child_cpu_s[pid] = max(cpu if cpu is not None else 0.0, stat[1] / TICKS_PER_SECOND)
            self.child_starts.setdefault(pid, stat[2])
            child_rss += memory[0]
            child_pss += memory[1]
        others = {}
        for name, pid in self.others.items():
            stat = read_stat(pid)
            others[name] = stat[1] if stat else None
        busy, total = machine_ticks()
        self.samples.append({
            "time": now,
            "jvm_rss_kib": root_memory[0],
            "jvm_pss_kib": root_memory[1],
            "jvm_cpu_ticks": root_stat[1],
            "children": live,
            "children_rss_kib": child_rss,
            "children_pss_kib": child_pss,
            # In ticks like the others, but from nanosecond counts: fractional.
            "children_cpu_ticks": sum(self.child_cpu_s.values()) * TICKS_PER_SECOND,
            "others_cpu_ticks": others,
            "machine_busy_ticks": busy,
            "machine_total_ticks": total,
        })


def boot_time():
    """The machine's boot time (epoch seconds), to turn /proc start times into wall times."""
    with open("/proc/stat", encoding="ascii") as stat_file:
        for line in stat_file:
            if line.startswith("btime "):
                return int(line.split()[1])
    raise RuntimeError("no btime in /proc/stat")
