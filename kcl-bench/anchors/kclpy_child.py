#!/usr/bin/env python3
"""kcl-bench child on the official Python SDK (amazon_kclpy, processor v3 API).

Same work as every bench child: decode every record's data, sum the lengths, checkpoint at the
last record of each batch, checkpoint at shard end, print the totals on stderr at shard end.
Run by kcl-bench with .local/bench-venv/bin/python (see scripts/bench).
"""
import sys

from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor


class BenchProcessor(processor.RecordProcessorBase):
    def __init__(self):
        self.records = 0
        self.bytes = 0

    def initialize(self, initialize_input):
        pass

    def process_records(self, process_records_input):
        records = process_records_input.records
        for record in records:
            self.bytes += len(record.binary_data)
        self.records += len(records)
        if records:
            last = records[-1]
            process_records_input.checkpointer.checkpoint(last.sequence_number, last.sub_sequence_number)

    def lease_lost(self, lease_lost_input):
        pass

    def shard_ended(self, shard_ended_input):
        shard_ended_input.checkpointer.checkpoint()
        sys.stderr.write("kcl-bench-child records={} bytes={}\n".format(self.records, self.bytes))
        sys.stderr.flush()

    def shutdown_requested(self, shutdown_requested_input):
        shutdown_requested_input.checkpointer.checkpoint()


if __name__ == "__main__":
    kcl.KCLProcess(BenchProcessor()).run()
