//! Tests of the KPL format against byte vectors written out by hand from `messages.proto` (field
//! keys `field << 3 | wire type`, lengths as varints) with MD5 trailers computed by coreutils'
//! `md5sum`, so that the encoder is checked against the specification and not only against its own
//! decoder. (The e2e scenario s9 also checks it against the `aws-kinesis-agg` Python package and
//! the real daemon.)

use super::*;

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// 2^127: the first hash key of the upper half of the key space.
const HALF: &str = "170141183460469231731687303715884105728";

/// One record, partition key "a", data "b", no explicit hash key:
/// `0A 01 'a'` (partition_key_table), `1A 05` (records, 5 bytes) `08 00` (partition_key_index 0)
/// `1A 01 'b'` (data). `printf '\x0a\x01\x61\x1a\x05\x08\x00\x1a\x01\x62' | md5sum`.
#[test]
fn single_record_matches_the_hand_derived_bytes() {
    let expected = hex("f3899ac2 0a0161 1a05 0800 1a0162 75b9724261679483b6125c2a4c071f65");
    let encoded = encode(&[UserRecord::new("a", "b")]);
    assert_eq!(encoded, expected);
    assert_eq!(decode(&expected).unwrap(), vec![UserRecord::new("a", "b")]);
}

/// Three records: a shared partition key, a shared explicit hash key, tags with and without a
/// value, an empty payload and a 200-byte payload whose length needs a two-byte varint (`C8 01`).
fn three_records() -> (Vec<UserRecord>, Vec<u8>) {
    let records = vec![
        UserRecord::new("pk", "x")
            .with_explicit_hash_key(HALF)
            .with_tag("k", Some("v")),
        UserRecord::new("pk", vec![0xAB; 200]),
        UserRecord::new("q", Vec::new())
            .with_explicit_hash_key(HALF)
            .with_tag("only-key", None),
    ];
    let mut bytes = hex("f3899ac2");
    bytes.extend(hex("0a02")); // partition_key_table[0] = "pk"
    bytes.extend(b"pk");
    bytes.extend(hex("0a01")); // partition_key_table[1] = "q"
    bytes.extend(b"q");
    bytes.extend(hex("1227")); // explicit_hash_key_table[0], 39 digits
    bytes.extend(HALF.as_bytes());
    // records[0], 15 bytes: pk index 0, ehk index 0, data "x", tag {key "k", value "v"} (6 bytes).
    bytes.extend(hex("1a0f 0800 1000 1a01"));
    bytes.extend(b"x");
    bytes.extend(hex("2206 0a01 6b 1201 76"));
    // records[1], 205 bytes (CD 01): pk index 0, no ehk, data 200 x AB (C8 01).
    bytes.extend(hex("1acd01 0800 1ac801"));
    bytes.extend([0xAB; 200]);
    // records[2], 18 bytes: pk index 1, ehk index 0, empty data, tag {key "only-key"} (10 bytes).
    bytes.extend(hex("1a12 0801 1000 1a00 220a 0a08"));
    bytes.extend(b"only-key");
    // md5sum of the 293 protobuf bytes.
    bytes.extend(hex("feaa9f3f45faa041a1324da55b3f447f"));
    (records, bytes)
}

#[test]
fn key_tables_tags_and_long_lengths_match_the_hand_derived_bytes() {
    let (records, expected) = three_records();
    assert_eq!(expected.len(), 4 + 293 + 16);
    assert_eq!(encode(&records), expected);
    assert_eq!(decode(&expected).unwrap(), records);
}

#[test]
fn a_flipped_trailer_byte_is_a_digest_mismatch() {
    let (_, mut bytes) = three_records();
    *bytes.last_mut().unwrap() ^= 1;
    assert_eq!(decode(&bytes), Err(DecodeError::DigestMismatch));
}

#[test]
fn non_aggregates_are_recognised() {
    assert_eq!(decode(b"plain"), Err(DecodeError::NotAggregated));
    // Magic followed by exactly 16 bytes: the KCL treats this as not aggregated too.
    let mut short = MAGIC.to_vec();
    short.extend([0u8; DIGEST_LEN]);
    assert_eq!(decode(&short), Err(DecodeError::NotAggregated));
}

#[test]
fn malformed_protobuf_names_the_offset() {
    // A records field that claims 9 bytes but has 2.
    let framed = frame(&hex("1a09 0800"));
    assert_eq!(
        decode(&framed),
        Err(DecodeError::Malformed {
            offset: 2,
            problem: "field runs past the end"
        })
    );
    // A record naming partition key 3 of a table with one entry.
    let framed = frame(&hex("0a0161 1a05 0803 1a0162"));
    assert_eq!(
        decode(&framed),
        Err(DecodeError::BadIndex {
            record: 0,
            index: 3
        })
    );
    // A record without data.
    let framed = frame(&hex("0a0161 1a02 0800"));
    assert!(matches!(
        decode(&framed),
        Err(DecodeError::Malformed {
            problem: "record without data",
            ..
        })
    ));
}

#[test]
fn unknown_fields_are_skipped() {
    // Field 9 varint, field 10 fixed64, field 11 fixed32 around the one-record message.
    let framed = frame(&hex(
        "4801 510102030405060708 0a0161 5d01020304 1a05 0800 1a0162",
    ));
    assert_eq!(decode(&framed).unwrap(), vec![UserRecord::new("a", "b")]);
}

#[test]
fn round_trip_of_binary_and_large_records() {
    let all_bytes: Vec<u8> = (0..=255).collect();
    let records = vec![
        UserRecord::new("ü ñ \u{1F980}", all_bytes.clone()),
        UserRecord::new("big", vec![7u8; 300_000]).with_explicit_hash_key(u128::MAX),
        // A payload that itself looks like an aggregate stays opaque.
        UserRecord::new("nested", encode(&[UserRecord::new("a", "b")])),
    ];
    assert_eq!(decode(&encode(&records)).unwrap(), records);
}

#[test]
fn effective_hash_key_is_the_explicit_key_or_the_md5_of_the_partition_key() {
    // printf a | md5sum
    assert_eq!(
        effective_hash_key(&UserRecord::new("a", "")),
        Some(0x0cc175b9c0f1b6a831c399e269772661)
    );
    assert_eq!(
        effective_hash_key(&UserRecord::new("a", "").with_explicit_hash_key(HALF)),
        Some(1u128 << 127)
    );
    assert_eq!(
        effective_hash_key(&UserRecord::new("a", "").with_explicit_hash_key("not a number")),
        None
    );
}
