"""Unit tests of what the whole-worker benchmark reads: the daemon's log, jcmd's answers, the
cgroup files and the properties template. Run by scripts/test:
    python3 -m unittest discover -s kcl-bench/worker -p 'test_*.py'
"""
import os
import tempfile
import unittest

import daemon_log
import jvm_probe
import memory_cgroup
import worker_run

LOG = """kcl-bootstrap: starting the MultiLangDaemon (KCL 3.1.3, Java 17)
2026-12-02T18:10:38.071Z  INFO software.amazon.kinesis.coordinator.Scheduler [multi-lang-daemon-0000] - Initializing LeaseCoordinator attempt 1
2026-12-02T18:10:38.255Z  INFO software.amazon.kinesis.coordinator.Scheduler [multi-lang-daemon-0000] - Lease table is still empty. Checking again in 3000 ms
2026-12-02T18:10:41.274Z  INFO software.amazon.kinesis.coordinator.Scheduler [multi-lang-daemon-0000] - Lease table is still empty. Checking again in 3000 ms
2026-12-02T18:10:44.364Z  INFO software.amazon.kinesis.coordinator.Scheduler [multi-lang-daemon-0000] - Worker w is initiating the lease sync.
2026-12-02T18:10:44.560Z  INFO software.amazon.kinesis.leases.HierarchicalShardSyncer [multi-lang-daemon-0000] - s - Newly created leases 8: [...]
2026-12-02T18:10:45.579Z  INFO software.amazon.kinesis.coordinator.migration.MigrationStateMachineImpl [multi-lang-daemon-0000] - Initializing MigrationStateMachine
2026-12-02T18:10:45.740Z  INFO software.amazon.kinesis.coordinator.Scheduler [multi-lang-daemon-0000] - Initialization complete. Starting worker loop.
  at a stack line without a time
2026-12-02T18:11:45.000Z ERROR software.amazon.kinesis.multilang.MultiLangProtocol [x] - Timedout to get status message for initialize action
"""

NMT = """12345:

Native Memory Tracking:

(Omitting categories weighting less than 1KB)

Total: reserved=1520116KB, committed=124199KB
       malloc: 20011KB #220000
-                 Java Heap (reserved=262144KB, committed=29480KB)
                            (mmap: reserved=262144KB, committed=29480KB)

-                     Class (reserved=1049327KB, committed=7218KB)
                            (classes #11000)
-                    Thread (reserved=40000KB, committed=7612KB)
"""


class DaemonLogTest(unittest.TestCase):
    def setUp(self):
        handle, self.path = tempfile.mkstemp(suffix=".log")
        with os.fdopen(handle, "w", encoding="utf-8") as log:
            log.write(LOG)

    def tearDown(self):
        os.remove(self.path)

    def test_the_kcl_sleeps_and_the_schedulers_marks(self):
        times = daemon_log.scheduler_times(self.path)
        self.assertAlmostEqual(daemon_log.lease_wait_secs(times), 44.364 - 38.255, places=3)
        self.assertAlmostEqual(daemon_log.shard_sync_idle_secs(times), 45.579 - 44.560, places=3)
        self.assertAlmostEqual(times["scheduler_running"] - times["scheduler_run"], 45.740 - 38.071, places=3)
        self.assertEqual(times["status_timeouts"], 1)

    def test_no_idle_without_the_shard_syncers_line(self):
        times = daemon_log.scheduler_times(self.path)
        times["leases_created"] = None
        self.assertIsNone(daemon_log.shard_sync_idle_secs(times))

    def test_lines_without_a_time(self):
        self.assertIsNone(daemon_log.line_time("  at a stack line"))
        self.assertIsNone(daemon_log.line_time("2026-13-02T18:10:38.071Z  INFO x"))


class JcmdTest(unittest.TestCase):
    def test_native_memory_categories(self):
        original = jvm_probe.jcmd
        jvm_probe.jcmd = lambda pid, *command: NMT
        try:
            committed = jvm_probe.native_memory_kib(1)
        finally:
            jvm_probe.jcmd = original
        self.assertEqual(committed, {"Total": 124199, "Java Heap": 29480, "Class": 7218, "Thread": 7612})

    def test_no_tracking_is_none(self):
        original = jvm_probe.jcmd
        jvm_probe.jcmd = lambda pid, *command: "12345:\nNative memory tracking is not enabled\n"
        try:
            self.assertIsNone(jvm_probe.native_memory_kib(1))
        finally:
            jvm_probe.jcmd = original

    def test_max_heap_from_the_flags(self):
        original = jvm_probe.jcmd
        jvm_probe.jcmd = lambda pid, *command: "12345:\n-XX:InitialHeapSize=16777216 -XX:MaxHeapSize=132120576 -XX:+UseSerialGC\n"
        try:
            self.assertEqual(jvm_probe.max_heap_kib(1), 129024)
        finally:
            jvm_probe.jcmd = original


class CgroupTest(unittest.TestCase):
    def figures(self, version, limit_mib, files):
        with tempfile.TemporaryDirectory() as directory:
            for name, text in files.items():
                with open(os.path.join(directory, name), "w", encoding="ascii") as control:
                    control.write(text)
            return memory_cgroup.figures_of(directory, version, limit_mib)

    def test_v1_figures(self):
        figures = self.figures(1, 256, {"memory.max_usage_in_bytes": "268435456\n",
                                        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"})
        self.assertEqual(figures, {"memory_limit_mib": 256, "cgroup_peak_kib": 262144, "cgroup_oom_kills": 1})

    def test_v2_figures(self):
        figures = self.figures(2, 192, {"memory.peak": "201326592\n",
                                        "memory.events": "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n"})
        self.assertEqual(figures, {"memory_limit_mib": 192, "cgroup_peak_kib": 196608, "cgroup_oom_kills": 1})

    def test_an_old_kernel_without_the_counters(self):
        self.assertEqual(self.figures(2, 192, {}),
                         {"memory_limit_mib": 192, "cgroup_peak_kib": None, "cgroup_oom_kills": None})


class PropertiesTest(unittest.TestCase):
    def test_keys_replaced_and_missing_ones_appended(self):
        text = worker_run.render_properties("# streamName = commented\nstreamName = a\nx=1\n",
                                            {"streamName": "b", "workerId": "w"})
        self.assertEqual(text, "# streamName = commented\nstreamName = b\nx=1\nworkerId = w\n")


if __name__ == "__main__":
    unittest.main()
