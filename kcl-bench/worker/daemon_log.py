"""Times read from the daemon's log (kcl-bootstrap's default logback pattern: an ISO-8601 UTC
timestamp with milliseconds first on every daemon line).

The messages are KCL 3.1.3's Scheduler (coordinator/Scheduler.java):
- "Lease table is still empty. Checking again in 3000 ms": shouldInitiateLeaseSync() polls an
  empty lease table until a random 1-30 s wait (MIN/MAX_WAIT_TIME_FOR_LEASE_TABLE_CHECK_MILLIS)
  has passed; the first such line starts that wait,
- "Worker ... is initiating the lease sync.": the wait is over,
- "Initialization complete. Starting worker loop.": the scheduler runs.
"""
import datetime

FIRST_EMPTY_CHECK = "Lease table is still empty."
LEASE_SYNC = "is initiating the lease sync."
SCHEDULER_RUNNING = "Initialization complete. Starting worker loop."
# KCL 3.1.3 MultiLangProtocol, when a child's status does not come within timeoutInSeconds: what a
# pool too small for the children (maxActiveThreads) shows (measured: "for initialize action").
STATUS_TIMEOUT = "Timedout to get status message"


def line_time(line):
    """Epoch seconds of a daemon log line, or None for lines without a timestamp."""
    stamp = line[:24]
    if len(stamp) < 24 or stamp[4] != "-" or stamp[10] != "T" or not stamp.endswith("Z"):
        return None
    try:
        parsed = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return None
    return parsed.replace(tzinfo=datetime.timezone.utc).timestamp()


def first_time(lines, text):
    """Epoch seconds of the first line holding `text`, or None."""
    for line in lines:
        if text in line:
            return line_time(line)
    return None


def scheduler_times(path):
    """{"scheduler_running", "lease_wait_start", "lease_sync"}: epoch seconds or None each;
    "status_timeouts": how many times the daemon gave up waiting for a child's status."""
    with open(path, encoding="utf-8", errors="replace") as log_file:
        lines = log_file.readlines()
    return {
        "status_timeouts": sum(1 for line in lines if STATUS_TIMEOUT in line),
        "scheduler_running": first_time(lines, SCHEDULER_RUNNING),
        "lease_wait_start": first_time(lines, FIRST_EMPTY_CHECK),
        "lease_sync": first_time(lines, LEASE_SYNC),
    }


def lease_wait_secs(times):
    """The KCL's initial random lease wait as the log shows it: first empty-table check to the
    lease sync (0 when the table was never seen empty)."""
    if times["lease_sync"] is None:
        return None
    if times["lease_wait_start"] is None:
        return 0.0
    return max(times["lease_sync"] - times["lease_wait_start"], 0.0)
