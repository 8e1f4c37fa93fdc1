//! Sensor-style records, as the official Node basic sample produces them.

use serde::{Deserialize, Serialize};

/// One record the producer puts: a reading of one sensor at one time.
///
/// Serialised as `{"time":…,"sensor":"sensor-17","reading":42.5}`; the partition key is the
/// sensor, so every reading of a sensor lands on the same shard, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorReading {
    /// When the reading was taken, in milliseconds since the Unix epoch.
    pub time: u64,
    /// The sensor's name, `sensor-<n>`; also the partition key.
    pub sensor: String,
    /// The reading, between 0 and 100 with one decimal.
    pub reading: f64,
}

impl SensorReading {
    /// The record's partition key: the sensor name.
    pub fn partition_key(&self) -> &str {
        &self.sensor
    }

    /// The record's data: the reading as a JSON object.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising a struct of plain fields cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Generates readings for `sensors` sensors from a seeded pseudo-random sequence, so a run can be
/// reproduced (`--seed`).
#[derive(Debug, Clone)]
pub struct SensorGenerator {
    sensors: u32,
    state: u64,
}

impl SensorGenerator {
    /// A generator over `sensor-0` … `sensor-<sensors - 1>` (at least one sensor).
    pub fn new(sensors: u32, seed: u64) -> Self {
        SensorGenerator {
            sensors: sensors.max(1),
            state: splitmix64(seed),
        }
    }

    /// The next reading, stamped with `time_millis`.
    pub fn next_reading(&mut self, time_millis: u64) -> SensorReading {
        let sensor = (self.next_u64() % u64::from(self.sensors)) as u32;
        let tenths = self.next_u64() % 1001;
        SensorReading {
            time: time_millis,
            sensor: format!("sensor-{sensor}"),
            reading: tenths as f64 / 10.0,
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
    fn readings_are_json_with_the_sensor_as_partition_key() {
        let mut generator = SensorGenerator::new(5, 7);
        let reading = generator.next_reading(1_700_000_000_000);
        let json: serde_json::Value = serde_json::from_slice(&reading.to_json()).unwrap();
        assert_eq!(json["time"], 1_700_000_000_000u64);
        assert_eq!(json["sensor"], reading.sensor.as_str());
        assert_eq!(reading.partition_key(), reading.sensor);
        assert!(json["reading"].as_f64().unwrap() <= 100.0);
    }

    #[test]
    fn sensors_stay_in_range_and_all_appear() {
        let mut generator = SensorGenerator::new(4, 1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..1000 {
            let reading = generator.next_reading(0);
            let n: u32 = reading
                .sensor
                .strip_prefix("sensor-")
                .unwrap()
                .parse()
                .unwrap();
            assert!(n < 4, "{}", reading.sensor);
            assert!((0.0..=100.0).contains(&reading.reading));
            seen.insert(n);
        }
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn the_same_seed_gives_the_same_records() {
        let a: Vec<_> = {
            let mut g = SensorGenerator::new(10, 42);
            (0..20).map(|_| g.next_reading(1)).collect()
        };
        let b: Vec<_> = {
            let mut g = SensorGenerator::new(10, 42);
            (0..20).map(|_| g.next_reading(1)).collect()
        };
        let c: Vec<_> = {
            let mut g = SensorGenerator::new(10, 43);
            (0..20).map(|_| g.next_reading(1)).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
