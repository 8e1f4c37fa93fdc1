//! A parser for exactly the `processRecords` line the daemon writes, byte for byte (field order,
//! no whitespace, no escapes). It is an optimisation only: on any difference at all it gives up
//! and the lenient parser reads the line from the start, so it can never accept something the
//! lenient parser would reject or read differently. What it accepts it reads the same way (the
//! tests below compare both on the daemon's shape and on every one-byte mutation of it).
//!
//! Why: serde_json scans every string byte by byte for escapes; the `data` strings are most of a
//! batch, and here a SIMD search for the closing quote plus a SIMD base64 decode (which fails on
//! any `\\`, so a successful decode proves there was no escape) replaces that scan. Callgrind on
//! the big-batch workload: 547M → 334M instructions.

use crate::processor::ProcessRecordsInput;
use crate::record::Record;

/// Fills `batch` from `line` and finishes it, or returns `None` when the line is not exactly in
/// the daemon's shape (then `batch` holds a partial batch that the lenient parser begins again).
pub(super) fn process_records(line: &str, batch: &mut ProcessRecordsInput) -> Option<()> {
    let mut rest = line.as_bytes();
    eat(&mut rest, br#"{"action":"processRecords","records":["#)?;
    batch.begin_batch();
    if rest.first() != Some(&b']') {
        loop {
            record(&mut rest, batch.next_slot())?;
            match rest.split_first()? {
                (b',', after) => rest = after,
                (b']', _) => break,
                _ => return None,
            }
        }
    }
    eat(&mut rest, br#"],"millisBehindLatest":"#)?;
    let millis_behind_latest = if eat(&mut rest, b"null").is_some() {
        None
    } else {
        Some(integer(&mut rest)?)
    };
    // Nothing after the object (the lenient parser ignores trailing text; this one need not).
    if rest != b"}" {
        return None;
    }
    batch.finish(millis_behind_latest);
    Some(())
}

/// One record: `{"data":"…","partitionKey":"…","sequenceNumber":"…",
/// "approximateArrivalTimestamp":N,"subSequenceNumber":N,"action":"record"}`.
fn record(rest: &mut &[u8], slot: &mut Record) -> Option<()> {
    eat(rest, br#"{"data":""#)?;
    slot.set_data_from_base64(string(rest)?).ok()?;
    eat(rest, br#","partitionKey":""#)?;
    let key = string(rest)?;
    // An escape or a control character (which JSON forbids unescaped): leave it to serde_json.
    if key.iter().any(|&b| b == b'\\' || b < 0x20) {
        return None;
    }
    // The line is valid UTF-8 and `key` is cut at ASCII quotes, so this only re-checks it.
    slot.set_partition_key(std::str::from_utf8(key).ok()?);
    eat(rest, br#","sequenceNumber":""#)?;
    let sequence_number = std::str::from_utf8(string(rest)?).ok()?;
    // Digits only (else an error the lenient parser reports), so no escape can hide here.
    slot.set_sequence_number(sequence_number).ok()?;
    eat(rest, br#","approximateArrivalTimestamp":"#)?;
    slot.set_approximate_arrival_millis(Some(i64::try_from(integer(rest)?).ok()?));
    eat(rest, br#","subSequenceNumber":"#)?;
    slot.set_sub_sequence_number(integer(rest)?);
    eat(rest, br#","action":"record"}"#)
}

/// Consumes `literal` if `rest` starts with it.
fn eat(rest: &mut &[u8], literal: &[u8]) -> Option<()> {
    *rest = rest.strip_prefix(literal)?;
    Some(())
}

/// The text up to the next `"` (the opening quote was already eaten), consuming the quote.
fn string<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let end = memchr::memchr(b'"', rest)?;
    let text = &rest[..end];
    *rest = &rest[end + 1..];
    Some(text)
}

/// A JSON integer as serde_json reads it into a `u64`: digits, no leading zero, no sign, no
/// overflow. A fraction or exponent is left unread, and then the caller's next literal fails.
fn integer(rest: &mut &[u8]) -> Option<u64> {
    let length = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let digits = &rest[..length];
    if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    let mut value: u64 = 0;
    for &digit in digits {
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    *rest = &rest[length..];
    Some(value)
}

#[cfg(test)]
mod equivalence {
    //! The `processRecords` fast path must read what the lenient parser reads, and give up (so
    //! that the lenient parser decides) on everything else.
    use super::super::{Inbound, Parsed, lenient, parse_line};
    use super::*;

    type Snapshot = (
        Vec<(Vec<u8>, String, String, u64, Option<i64>)>,
        Option<u64>,
    );

    fn snapshot(batch: &ProcessRecordsInput) -> Snapshot {
        let records = batch
            .records()
            .iter()
            .map(|r| {
                (
                    r.data().to_vec(),
                    r.partition_key().to_owned(),
                    r.sequence_number().as_str().to_owned(),
                    r.sub_sequence_number(),
                    r.approximate_arrival_millis(),
                )
            })
            .collect();
        (records, batch.millis_behind_latest())
    }

    /// A batch that already held other records, as in a running engine.
    fn used_batch() -> ProcessRecordsInput {
        let mut batch = ProcessRecordsInput::default();
        let line = daemon_line(&[
            ("c3RhbGU=", "stale", "111"),
            ("c3RhbGU=", "stale", "112"),
            ("c3RhbGU=", "stale", "113"),
        ]);
        assert!(process_records(&line, &mut batch).is_some());
        batch
    }

    fn daemon_line(records: &[(&str, &str, &str)]) -> String {
        let records: Vec<String> = records
            .iter()
            .map(|(data, key, sequence)| {
                format!(
                    r#"{{"data":"{data}","partitionKey":"{key}","sequenceNumber":"{sequence}","approximateArrivalTimestamp":1476889707000,"subSequenceNumber":0,"action":"record"}}"#
                )
            })
            .collect();
        format!(
            r#"{{"action":"processRecords","records":[{}],"millisBehindLatest":1234}}"#,
            records.join(",")
        )
    }

    /// Parses `line` with and without the fast path and asserts the same outcome; returns whether
    /// the fast path took the line.
    fn check(line: &str) -> bool {
        let mut fast = used_batch();
        let mut lenient = used_batch();
        let taken = process_records(line, &mut used_batch()).is_some();
        let fast_parsed = parse_line(line, Some(&mut fast));
        let lenient_parsed = lenient::parse_line(line, Some(&mut lenient));
        assert_eq!(fast_parsed, lenient_parsed, "line: {line}");
        if matches!(fast_parsed, Parsed::Message(Inbound::ProcessRecords)) {
            assert_eq!(snapshot(&fast), snapshot(&lenient), "line: {line}");
        }
        taken
    }

    const SEQUENCE: &str = "49590338271490256608559692538361571095921575989136588898";

    #[test]
    fn takes_the_daemons_shape_and_reads_it_like_the_lenient_parser() {
        let canonical = [
            daemon_line(&[("bWVvdw==", "cat", SEQUENCE)]),
            daemon_line(&[
                ("bWVvdw==", "cat", SEQUENCE),
                ("", "dog", "1"),
                ("AAEC", "é ✓", "2"),
            ]),
            daemon_line(&[]),
            // Unpadded base64 is accepted by both.
            daemon_line(&[("bWVvdw", "cat", "3")]),
            r#"{"action":"processRecords","records":[],"millisBehindLatest":null}"#.to_owned(),
            r#"{"action":"processRecords","records":[],"millisBehindLatest":0}"#.to_owned(),
        ];
        for line in &canonical {
            assert!(check(line), "the fast path should take {line}");
        }
        let mut batch = ProcessRecordsInput::default();
        assert_eq!(
            parse_line(&canonical[1], Some(&mut batch)),
            Parsed::Message(Inbound::ProcessRecords)
        );
        assert_eq!(batch.millis_behind_latest(), Some(1234));
        assert_eq!(batch.records().len(), 3);
        assert_eq!(batch.records()[0].data(), b"meow");
        assert_eq!(batch.records()[2].partition_key(), "é ✓");
        assert_eq!(
            batch.records()[0].approximate_arrival_millis(),
            Some(1476889707000)
        );
    }

    #[test]
    fn leaves_every_other_shape_to_the_lenient_parser() {
        let record = |body: &str| {
            format!(r#"{{"action":"processRecords","records":[{body}],"millisBehindLatest":5}}"#)
        };
        let tail = r#""approximateArrivalTimestamp":1,"subSequenceNumber":0,"action":"record""#;
        let variants = [
            // Escapes in the partition key (valid and an escaped quote).
            record(&format!(
                r#"{{"data":"bWVvdw==","partitionKey":"ca\u0074","sequenceNumber":"1",{tail}}}"#
            )),
            record(&format!(
                r#"{{"data":"bWVvdw==","partitionKey":"c\"t","sequenceNumber":"1",{tail}}}"#
            )),
            record(&format!(
                r#"{{"data":"bWVvdw==","partitionKey":"c\\","sequenceNumber":"1",{tail}}}"#
            )),
            // A raw control character (JSON forbids it: the lenient parser rejects the line).
            record(&format!(
                "{{\"data\":\"bWVvdw==\",\"partitionKey\":\"c\tt\",\"sequenceNumber\":\"1\",{tail}}}"
            )),
            // An escape inside data.
            record(&format!(
                r#"{{"data":"bWVv\u0064w==","partitionKey":"cat","sequenceNumber":"1",{tail}}}"#
            )),
            record(&format!(
                r#"{{"data":"bWVvdw\/=","partitionKey":"cat","sequenceNumber":"1",{tail}}}"#
            )),
            // Invalid base64.
            record(&format!(
                r#"{{"data":"bWVvdw=!","partitionKey":"cat","sequenceNumber":"1",{tail}}}"#
            )),
            record(&format!(
                r#"{{"data":"b","partitionKey":"cat","sequenceNumber":"1",{tail}}}"#
            )),
            // Reordered fields.
            record(&format!(
                r#"{{"partitionKey":"cat","data":"bWVvdw==","sequenceNumber":"1",{tail}}}"#
            )),
            r#"{"records":[],"action":"processRecords","millisBehindLatest":5}"#.to_owned(),
            r#"{"action":"processRecords","millisBehindLatest":5,"records":[]}"#.to_owned(),
            // Extra, missing and duplicated fields.
            record(&format!(
                r#"{{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1",{tail},"x":1}}"#
            )),
            record(r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1"}"#),
            record(&format!(
                r#"{{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1",{tail},"data":"AA=="}}"#
            )),
            r#"{"action":"processRecords","records":[],"millisBehindLatest":5,"extra":null}"#
                .to_owned(),
            r#"{"action":"processRecords","records":[]}"#.to_owned(),
            // Nulls.
            record(&format!(
                r#"{{"data":null,"partitionKey":"cat","sequenceNumber":"1",{tail}}}"#
            )),
            record(&format!(
                r#"{{"data":"bWVvdw==","partitionKey":null,"sequenceNumber":"1",{tail}}}"#
            )),
            record(&format!(
                r#"{{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":null,{tail}}}"#
            )),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":null,"subSequenceNumber":null,"action":"record"}"#,
            ),
            r#"{"action":"processRecords","records":null,"millisBehindLatest":5}"#.to_owned(),
            // Numbers in other forms: strings, fractions, exponents, signs, leading zeros, overflow.
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":1,"approximateArrivalTimestamp":1,"subSequenceNumber":0,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":"1","subSequenceNumber":"0","action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":1.5,"subSequenceNumber":0.0,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":1e3,"subSequenceNumber":0,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":-1,"subSequenceNumber":0,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":01,"subSequenceNumber":0,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":9223372036854775808,"subSequenceNumber":0,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":1,"subSequenceNumber":18446744073709551616,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"12a","approximateArrivalTimestamp":1,"subSequenceNumber":0,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"","approximateArrivalTimestamp":1,"subSequenceNumber":0,"action":"record"}"#,
            ),
            // Whitespace, trailing text, a truncated line.
            r#"{"action":"processRecords", "records":[],"millisBehindLatest":5}"#.to_owned(),
            r#"{"action":"processRecords","records":[],"millisBehindLatest":5} trailing"#
                .to_owned(),
            r#"{"action":"processRecords","records":[],"millisBehindLatest":5}{}"#.to_owned(),
            r#"{"action":"processRecords","records":[{"data":"bWVvdw==""#.to_owned(),
        ];
        for line in &variants {
            assert!(
                !check(line),
                "the fast path must leave this to serde_json: {line}"
            );
        }
    }

    #[test]
    fn every_one_byte_mutation_of_the_daemons_shape_reads_the_same() {
        let line = daemon_line(&[("bWVvdw==", "cat", SEQUENCE), ("AAEC", "k", "7")]);
        let mut taken = 0;
        for at in 0..=line.len() {
            for replacement in [
                "", "\\", "\"", " ", "0", "9", ",", "}", "]", "A", "=", "-", ".", "\t", "é",
            ] {
                let mut mutated = line.clone();
                if at < line.len() {
                    mutated.replace_range(at..at + 1, replacement);
                } else {
                    mutated.push_str(replacement);
                }
                if check(&mutated) {
                    taken += 1;
                }
            }
        }
        // Some mutations stay in the daemon's shape (other digits, other base64 or key letters).
        assert!(taken > 0);
    }
}
