"""Cross-check of the harness's KPL encoder (tests/src/kpl.rs) against an independent implementation.

Uses the `aws-kinesis-agg` package (tests/requirements-kpl.txt), AWS's Python aggregation module,
and Google's protobuf runtime with the KPL's own compiled `messages.proto`.

Reads one JSON object on stdin:
  {"decode": ["<hex of a Kinesis record's data>", ...],
   "encode": [[{"partition_key": str, "explicit_hash_key": str|null, "data": "<hex>"}, ...], ...]}
Writes one JSON object on stdout:
  {"decoded": [{"aggregated": bool,
                "records": [{"sub_sequence_number": int, "partition_key": str,
                             "explicit_hash_key": str|null, "data": "<hex>",
                             "tags": [[key, value|null], ...]}, ...]}, ...],
   "encoded": ["<hex of the aggregate aws-kinesis-agg builds>", ...]}

Decoding goes through the package's deaggregator (magic, MD5 check, protobuf parse, sub-sequence
numbers, partition keys, data). The explicit hash key and the tags are read from the protobuf message
with HasField, because the package's deaggregator gives a record without an explicit hash key index
the table's first key (the KCL, like the KPL, gives it none).
"""

import base64
import json
import sys

# The deaggregator first: it puts the package directory on sys.path, which its generated
# messages_pb2 needs for `import config_pb2`.
from aws_kinesis_agg.deaggregator import iter_deaggregate_records
from aws_kinesis_agg.aggregator import RecordAggregator
from aws_kinesis_agg import messages_pb2

MAGIC_LEN = 4
DIGEST_LEN = 16


def decode(data):
    raw = {
        "Data": data,
        "PartitionKey": "outer",
        "SequenceNumber": "1",
        "ApproximateArrivalTimestamp": 0,
    }
    user_records = list(iter_deaggregate_records([raw], data_format="Boto3"))
    aggregated = bool(user_records) and user_records[0]["kinesis"].get("aggregated") is True
    if not aggregated:
        return {"aggregated": False, "records": []}
    message = messages_pb2.AggregatedRecord()
    message.ParseFromString(data[MAGIC_LEN:-DIGEST_LEN])
    if len(message.records) != len(user_records):
        raise SystemExit("deaggregator and protobuf parse disagree on the record count")
    out = []
    for user, proto in zip(user_records, message.records):
        kinesis = user["kinesis"]
        ehk = None
        if proto.HasField("explicit_hash_key_index"):
            ehk = message.explicit_hash_key_table[proto.explicit_hash_key_index]
        out.append({
            "sub_sequence_number": kinesis["subSequenceNumber"],
            "partition_key": kinesis["partitionKey"],
            "explicit_hash_key": ehk,
            "data": base64.b64decode(kinesis["data"]).hex(),
            "tags": [[t.key, t.value if t.HasField("value") else None] for t in proto.tags],
        })
    return {"aggregated": True, "records": out}


def encode(records):
    aggregator = RecordAggregator()
    for record in records:
        full = aggregator.add_user_record(
            record["partition_key"], bytes.fromhex(record["data"]), record["explicit_hash_key"]
        )
        if full is not None:
            raise SystemExit("records do not fit in one aggregate")
    _, _, data = aggregator.clear_and_get().get_contents()
    return data.hex()


def main():
    request = json.load(sys.stdin)
    response = {
        "decoded": [decode(bytes.fromhex(h)) for h in request.get("decode", [])],
        "encoded": [encode(records) for records in request.get("encode", [])],
    }
    json.dump(response, sys.stdout)


if __name__ == "__main__":
    main()
