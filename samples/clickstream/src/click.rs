//! Click records, as the official Node click-stream sample produces them.

use serde::{Deserialize, Serialize};

/// The referrers the official sample picks from.
pub const REFERRERS: [&str; 6] = [
    "http://www.amazon.com",
    "http://www.google.com",
    "http://www.yahoo.com",
    "http://www.bing.com",
    "http://www.stackoverflow.com",
    "http://www.reddit.com",
];

/// One click: a resource was requested, coming from a referrer.
///
/// Serialised as `{"resource":"resource-3","referrer":"http://www.bing.com"}`; the partition key is
/// the resource, so every click on one resource lands on the same shard, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Click {
    /// The requested resource, `resource-<n>`; also the partition key.
    pub resource: String,
    /// Where the request came from.
    pub referrer: String,
}

impl Click {
    /// The record's partition key: the resource.
    pub fn partition_key(&self) -> &str {
        &self.resource
    }

    /// The record's data: the click as a JSON object.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising two strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Generates clicks on `resources` resources from a seeded pseudo-random sequence, so a run can be
/// reproduced (`--seed`).
#[derive(Debug, Clone)]
pub struct ClickGenerator {
    resources: u32,
    state: u64,
}

impl ClickGenerator {
    /// A generator over `resource-0` … `resource-<resources - 1>` (at least one resource).
    pub fn new(resources: u32, seed: u64) -> Self {
        ClickGenerator {
            resources: resources.max(1),
            state: splitmix64(seed),
        }
    }

    /// The next click.
    pub fn next_click(&mut self) -> Click {
        let resource = self.next_u64() % u64::from(self.resources);
        let referrer = REFERRERS[(self.next_u64() % REFERRERS.len() as u64) as usize];
        Click {
            resource: format!("resource-{resource}"),
            referrer: referrer.to_owned(),
        }
    }

    /// xorshift64*: small, fast and good enough for sample data (not for anything secret).
    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Spreads every bit of the seed over the whole state (neighbouring seeds give unrelated
/// sequences) and never returns zero, where xorshift would be stuck.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clicks_are_json_with_the_resource_as_partition_key() {
        let click = ClickGenerator::new(10, 3).next_click();
        let back: Click = serde_json::from_slice(&click.to_json()).unwrap();
        assert_eq!(back, click);
        assert_eq!(click.partition_key(), click.resource);
        assert!(REFERRERS.contains(&click.referrer.as_str()));
    }

    #[test]
    fn every_resource_and_referrer_appears_and_none_other() {
        let mut generator = ClickGenerator::new(8, 11);
        let mut resources = std::collections::BTreeSet::new();
        let mut referrers = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let click = generator.next_click();
            let n: u32 = click
                .resource
                .strip_prefix("resource-")
                .unwrap()
                .parse()
                .unwrap();
            assert!(n < 8);
            resources.insert(n);
            referrers.insert(click.referrer);
        }
        assert_eq!(resources.len(), 8);
        assert_eq!(referrers.len(), REFERRERS.len());
    }

    #[test]
    fn the_seed_decides_the_sequence() {
        let run = |seed| {
            let mut g = ClickGenerator::new(100, seed);
            (0..50).map(|_| g.next_click()).collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }
}
