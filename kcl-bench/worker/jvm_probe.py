"""What the running JVM says about itself, through the JDK's `jcmd` (the one next to the JVM's
own `java`, since jcmd attaches only to its own JDK version): the heap size it chose
(`VM.flags`: MaxHeapSize, which the JVM derives from the container's memory limit when no -Xmx
is given) and, when the JVM runs with -XX:NativeMemoryTracking=summary, where its memory is
(`VM.native_memory summary`).

Called once the drain is over and the sampler has stopped, so neither probe is in the figures.
"""
import os
import re
import subprocess

JCMD_TIMEOUT_SECS = 30
# JDK 17 and 25: "-                 Java Heap (reserved=262144KB, committed=16384KB)"
NMT_CATEGORY = re.compile(r"^-\s+(.+?) \(reserved=(\d+)KB, committed=(\d+)KB")
NMT_TOTAL = re.compile(r"^Total: reserved=(\d+)KB, committed=(\d+)KB")
MAX_HEAP = re.compile(r"-XX:MaxHeapSize=(\d+)")


def jcmd_path(pid):
    """The jcmd beside the JVM's executable, or None (a JRE has none)."""
    try:
        java = os.path.realpath(f"/proc/{pid}/exe")
    except OSError:
        return None
    jcmd = os.path.join(os.path.dirname(java), "jcmd")
    return jcmd if os.access(jcmd, os.X_OK) else None


def jcmd(pid, *command):
    """jcmd's output, or None when it cannot attach (the JVM is gone, no jcmd)."""
    path = jcmd_path(pid)
    if path is None:
        return None
    try:
        out = subprocess.run([path, str(pid), *command], capture_output=True, text=True,
                             timeout=JCMD_TIMEOUT_SECS)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def max_heap_kib(pid):
    """The JVM's MaxHeapSize in KiB (its own choice or -Xmx), or None."""
    text = jcmd(pid, "VM.flags")
    match = MAX_HEAP.search(text or "")
    return None if match is None else int(match.group(1)) // 1024


def native_memory_kib(pid):
    """{category: committed KiB} from Native Memory Tracking ("Total" included), or None when
    the JVM does not track (no -XX:NativeMemoryTracking)."""
    text = jcmd(pid, "VM.native_memory", "summary", "scale=KB")
    if not text or "Native Memory Tracking" not in text:
        return None
    committed = {}
    for line in text.splitlines():
        line = line.strip()
        total = NMT_TOTAL.match(line)
        if total:
            committed["Total"] = int(total.group(2))
            continue
        category = NMT_CATEGORY.match(line)
        if category:
            committed[category.group(1)] = int(category.group(3))
    return committed or None
