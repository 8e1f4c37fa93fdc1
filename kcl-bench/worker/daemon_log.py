"""Times read from the daemon's log (kcl-bootstrap's default logback pattern: an ISO-8601 UTC
timestamp with milliseconds first on every daemon line).

The messages are KCL 3.1.3's Scheduler (coordinator/Scheduler.java):
- "Initializing LeaseCoordinator attempt 1": the first line of Scheduler.initialize(), which its
  run() calls first: the scheduler is running (JVM start-up, config and clients are behind it),
- "Lease table is still empty. Checking again in 3000 ms": shouldInitiateLeaseSync() polls an
  empty lease table until a random 1-30 s wait (MIN/MAX_WAIT_TIME_FOR_LEASE_TABLE_CHECK_MILLIS)
  has passed; the first such line starts that wait,
- "Worker ... is initiating the lease sync.": the wait is over,
- "Initialization complete. Starting worker loop.": the scheduler runs.
And the first shard sync's idle: ShardSyncTask.call() sleeps shardSyncTaskIdleTimeMillis after
creating leases, and the factory passes shardSyncIntervalMillis for it (DynamoDBLeaseManagement
Factory.createShardSyncTaskManager; 1000 in local.properties, 60000 by default), so the first
worker of a new application waits that long in initialize(). HierarchicalShardSyncer's
"Newly created leases" (INFO; the benchmark's logback turns that one logger on) is logged just
before the sleep, and the Scheduler's next step logs "Initializing MigrationStateMachine".
"""
import datetime

FIRST_EMPTY_CHECK = "Lease table is still empty."
LEASE_SYNC = "is initiating the lease sync."
SCHEDULER_RUNNING = "Initialization complete. Starting worker loop."
SCHEDULER_RUN = "Initializing LeaseCoordinator attempt 1"
LEASES_CREATED = "Newly created leases"
AFTER_SHARD_SYNC = "Initializing MigrationStateMachine"
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
    """{"scheduler_run", "scheduler_running", "lease_wait_start", "lease_sync", "leases_created",
    "after_shard_sync"}: epoch seconds or None each;
    "status_timeouts": how many times the daemon gave up waiting for a child's status."""
    with open(path, encoding="utf-8", errors="replace") as log_file:
        lines = log_file.readlines()
    return {
        "status_timeouts": sum(1 for line in lines if STATUS_TIMEOUT in line),
        "scheduler_run": first_time(lines, SCHEDULER_RUN),
        "scheduler_running": first_time(lines, SCHEDULER_RUNNING),
        "leases_created": first_time(lines, LEASES_CREATED),
        "after_shard_sync": first_time(lines, AFTER_SHARD_SYNC),
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


def shard_sync_idle_secs(times):
    """The first shard sync's idle after creating leases, as the log shows it, or None when the
    log does not have both lines (no leases created, or the logger off)."""
    if times["leases_created"] is None or times["after_shard_sync"] is None:
        return None
    return max(times["after_shard_sync"] - times["leases_created"], 0.0)
