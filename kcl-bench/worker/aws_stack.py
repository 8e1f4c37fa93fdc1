"""The local AWS stack for the whole-worker benchmark: start and stop it, make a stream, fill it,
and read the daemon's lease table.

The stack is `scripts/local-stack up` with its own run directory and free ports (another session
may run a stack of its own on the same machine); it is stopped by the PIDs that directory holds.
"""
import os
import subprocess
import time
import uuid

import boto3
from botocore.config import Config

REGION = "us-east-1"
# kinesis-local answers a 500-record PutRecords in well under a second; a hung call must not hang
# the benchmark.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3})


def stack_env(run_dir):
    """The endpoint file `scripts/local-stack up` wrote, as a dict."""
    values = {}
    with open(os.path.join(run_dir, "env"), encoding="utf-8") as env_file:
        for line in env_file:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key] = value
    return values


def stack_up(repo, run_dir, timeout_secs=120):
    """Starts kinesis-local and moto on free 127.0.0.1 ports; returns the endpoint dict."""
    env = dict(os.environ, LOCAL_STACK_RUN_DIR=run_dir, KINESIS_PORT="0", KINESIS_TLS_PORT="0",
               MOTO_PORT="0", LOCAL_STACK_TIMEOUT=str(timeout_secs))
    subprocess.run([os.path.join(repo, "scripts/local-stack"), "up"], env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=timeout_secs + 600)
    return stack_env(run_dir)


def stack_down(repo, run_dir):
    """Stops what stack_up started, by the PIDs in its run directory."""
    env = dict(os.environ, LOCAL_STACK_RUN_DIR=run_dir)
    subprocess.run([os.path.join(repo, "scripts/local-stack"), "down"], env=env, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


def stack_pids(run_dir):
    """{"kinesis-local": pid, "moto": pid} of the running stack."""
    pids = {}
    for name in ("kinesis-local", "moto"):
        with open(os.path.join(run_dir, name + ".pid"), encoding="utf-8") as pid_file:
            pids[name] = int(pid_file.read().strip())
    return pids


class Stack:
    """Clients for one running stack."""

    def __init__(self, endpoints):
        session = boto3.session.Session(aws_access_key_id="dummy", aws_secret_access_key="dummy",
                                        region_name=REGION)
        self.endpoints = endpoints
        self.kinesis = session.client("kinesis", endpoint_url=endpoints["KINESIS_ENDPOINT"],
                                      config=CLIENT_CONFIG)
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoints["DYNAMODB_ENDPOINT"],
                                       config=CLIENT_CONFIG)

    def create_stream(self, name, shards, timeout_secs=60):
        """Creates `name` with `shards` shards and waits until it is ACTIVE; returns its shards."""
        self.kinesis.create_stream(StreamName=name, ShardCount=shards)
        deadline = time.monotonic() + timeout_secs
        while True:
            status = self.kinesis.describe_stream_summary(StreamName=name)
            if status["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"stream {name} not ACTIVE after {timeout_secs} s")
            time.sleep(0.1)
        listed = []
        token = None
        while True:
            page = (self.kinesis.list_shards(NextToken=token) if token
                    else self.kinesis.list_shards(StreamName=name))
            listed.extend(page["Shards"])
            token = page.get("NextToken")
            if not token:
                break
        if len(listed) != shards:
            raise RuntimeError(f"stream {name} has {len(listed)} shards, asked for {shards}")
        return listed

    def produce(self, name, shards, records, record_bytes):
        """Puts `records` records of `record_bytes` each, spread evenly over `shards` (explicit
        hash keys, round robin); returns {shard id: last sequence number} and the seconds taken."""
        payload_tail = os.urandom(max(record_bytes - 16, 0))
        last = {}
        started = time.monotonic()
        batch = []

        def flush():
            reply = self.kinesis.put_records(StreamName=name, Records=batch)
            if reply.get("FailedRecordCount"):
                raise RuntimeError(f"{reply['FailedRecordCount']} records failed: "
                                   f"{[r for r in reply['Records'] if 'ErrorCode' in r][:3]}")
            for entry in reply["Records"]:
                shard, sequence = entry["ShardId"], entry["SequenceNumber"]
                if shard not in last or int(sequence) > int(last[shard]):
                    last[shard] = sequence
            batch.clear()

        for index in range(records):
            shard = shards[index % len(shards)]
            data = (uuid.uuid4().hex[:16].encode() + payload_tail)[:record_bytes]
            batch.append({"Data": data, "PartitionKey": str(index),
                          "ExplicitHashKey": shard["HashKeyRange"]["StartingHashKey"]})
            # 500 records of 1 KB: PutRecords' limits are 500 records and 5 MB.
            if len(batch) == 500:
                flush()
        if batch:
            flush()
        return last, time.monotonic() - started

    def checkpoints(self, table):
        """{lease key: checkpoint} of a lease table (empty while the table does not exist)."""
        found = {}
        start = None
        while True:
            try:
                kwargs = {"TableName": table, "ConsistentRead": True,
                          "ProjectionExpression": "leaseKey, checkpoint"}
                if start:
                    kwargs["ExclusiveStartKey"] = start
                page = self.dynamodb.scan(**kwargs)
            except self.dynamodb.exceptions.ResourceNotFoundException:
                return {}
            for item in page.get("Items", []):
                found[item["leaseKey"]["S"]] = item.get("checkpoint", {}).get("S")
            start = page.get("LastEvaluatedKey")
            if not start:
                return found

    def delete_application_tables(self, application):
        """Drops the three tables KCL 3 makes per application, so moto stays small across runs."""
        for table in (application, application + "-CoordinatorState",
                      application + "-WorkerMetricStats"):
            try:
                self.dynamodb.delete_table(TableName=table)
            except self.dynamodb.exceptions.ResourceNotFoundException:
                pass
