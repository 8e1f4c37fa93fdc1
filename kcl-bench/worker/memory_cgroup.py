"""A memory cgroup of its own for one worker: what a container's memory limit is to the JVM
(which sizes its default heap from it) and to the kernel (which kills past it).

cgroup v1 (the memory controller mounted on its own) and v2 (the unified hierarchy with the
memory controller) are both handled; either needs write access to the hierarchy (root, or a
delegated subtree). The cgroup is made under the benchmark's own, so it is removed with it.
"""
import os

V1_FSTYPE, V2_FSTYPE = "cgroup", "cgroup2"


def _mounts():
    """(mount point, fstype, super options) of every cgroup mount."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) >= 5 and len(tail) >= 3 and tail[0] in (V1_FSTYPE, V2_FSTYPE):
                found.append((fields[4], tail[0], tail[2].split(","), fields[3]))
    return found


def _own_paths():
    """{controller or "" for v2: this process's cgroup path}."""
    paths = {}
    with open("/proc/self/cgroup", encoding="utf-8") as cgroup:
        for line in cgroup:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _parent():
    """(version, directory) under which to make a memory cgroup, or an error string."""
    paths, mounts = _own_paths(), _mounts()
    for point, fstype, options, root in mounts:
        if fstype == V1_FSTYPE and "memory" in options and "memory" in paths:
            return 1, point + paths["memory"][len(root.rstrip("/")):]
    for point, fstype, _, root in mounts:
        if fstype == V2_FSTYPE and "" in paths:
            directory = point + paths[""][len(root.rstrip("/")):]
            try:
                with open(os.path.join(directory, "cgroup.controllers"), encoding="ascii") as c:
                    if "memory" in c.read().split():
                        return 2, directory
            except OSError:
                continue
    return None, "no memory cgroup controller is mounted for this process"


class MemoryCgroup:
    """Made with a limit; `enter` moves the calling process in (a Popen preexec_fn); `figures`
    after the run; `remove` once its processes are gone."""

    def __init__(self, name, limit_mib):
        version, parent = _parent()
        if version is None:
            raise RuntimeError(f"--memory-limit needs a memory cgroup: {parent}")
        self.version, self.limit_mib = version, limit_mib
        self.path = os.path.join(parent, name)
        try:
            os.mkdir(self.path)
        except OSError as error:
            raise RuntimeError(f"cannot make the memory cgroup {self.path} ({error}); "
                               "--memory-limit needs write access to the cgroup hierarchy (root)") from error
        limit = str(limit_mib * 1024 * 1024)
        if version == 1:
            self._write("memory.limit_in_bytes", limit)
            # No swap beyond the limit (a container's limit counts swap too), where swap is accounted.
            if os.path.exists(os.path.join(self.path, "memory.memsw.limit_in_bytes")):
                self._write("memory.memsw.limit_in_bytes", limit)
        else:
            self._write("memory.max", limit)
            self._write("memory.swap.max", "0")

    def _write(self, name, value):
        with open(os.path.join(self.path, name), "w", encoding="ascii") as control:
            control.write(value)

    def enter(self):
        """Moves the calling process into the cgroup (its children follow)."""
        with open(os.path.join(self.path, "cgroup.procs"), "w", encoding="ascii") as procs:
            procs.write(str(os.getpid()))

    def figures(self):
        """The cgroup's figures after the run (`figures_of`)."""
        return figures_of(self.path, self.version, self.limit_mib)

    def remove(self):
        try:
            os.rmdir(self.path)
        except OSError:
            pass


def _read(directory, name):
    try:
        with open(os.path.join(directory, name), encoding="ascii") as control:
            return control.read()
    except OSError:
        return None


def figures_of(directory, version, limit_mib):
    """{"memory_limit_mib", "cgroup_peak_kib" (charged memory: RSS and page cache),
    "cgroup_oom_kills"} of a memory cgroup's directory; None where the kernel does not say. (v1's
    memory.failcnt read 0 after OOM kills here, so no "limit hits" figure is kept.)"""
    if version == 1:
        peak, events = _read(directory, "memory.max_usage_in_bytes"), _read(directory, "memory.oom_control")
    else:
        peak, events = _read(directory, "memory.peak"), _read(directory, "memory.events")
    oom_kills = None
    for line in (events or "").splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            oom_kills = int(value)
    return {
        "memory_limit_mib": limit_mib,
        "cgroup_peak_kib": None if peak is None else int(peak) // 1024,
        "cgroup_oom_kills": oom_kills,
    }
