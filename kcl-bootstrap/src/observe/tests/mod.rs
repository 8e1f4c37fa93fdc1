//! Tests of the observer: aggregation and exposition on the worker (time controlled), and the
//! real endpoint scraped over HTTP while the real library reports into it. Every scrape is parsed
//! with a strict OpenMetrics parser (`openmetrics-parser`).

mod aggregation;
mod endpoint;

use std::collections::{BTreeSet, HashMap};

use openmetrics_parser::{MetricFamily, OpenMetricsType, OpenMetricsValue};

/// A parsed exposition.
pub(super) struct Scraped {
    families: HashMap<String, MetricFamily<OpenMetricsType, OpenMetricsValue>>,
}

impl Scraped {
    /// Parses `text`, failing the test if it is not valid OpenMetrics.
    pub(super) fn parse(text: &str) -> Scraped {
        let exposition = openmetrics_parser::openmetrics::parse_openmetrics(text)
            .unwrap_or_else(|e| panic!("not valid OpenMetrics ({e:?}):\n{text}"));
        Scraped {
            families: exposition.families,
        }
    }

    fn family(&self, name: &str) -> &MetricFamily<OpenMetricsType, OpenMetricsValue> {
        self.families
            .get(name)
            .unwrap_or_else(|| panic!("no family {name}; have {:?}", self.families.keys()))
    }

    /// Each sample of a family: its labels and its value (a histogram's count). A family with
    /// no series is not in the exposition: no samples.
    pub(super) fn samples(&self, name: &str) -> Vec<(HashMap<String, String>, f64)> {
        let Some(family) = self.families.get(name) else {
            return Vec::new();
        };
        family
            .iter_samples()
            .map(|sample| {
                let labels = sample
                    .get_labelset()
                    .map(|set| set.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                let value = match &sample.value {
                    OpenMetricsValue::Counter(counter) => counter.value.as_f64(),
                    OpenMetricsValue::Gauge(gauge) => gauge.as_f64(),
                    OpenMetricsValue::Histogram(histogram) => histogram.count.unwrap_or(0) as f64,
                    OpenMetricsValue::Unknown(number) => number.as_f64(),
                    other => panic!("unexpected value {other:?}"),
                };
                (labels, value)
            })
            .collect()
    }

    /// The value of the sample with exactly these labels (among others it may have).
    pub(super) fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples(name)
            .into_iter()
            .find(|(have, _)| {
                labels
                    .iter()
                    .all(|(k, v)| have.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, value)| value)
    }

    pub(super) fn sum(&self, name: &str) -> f64 {
        self.samples(name).iter().map(|(_, value)| value).sum()
    }

    /// The `shard_id` values of a family.
    pub(super) fn shards(&self, name: &str) -> BTreeSet<String> {
        self.samples(name)
            .into_iter()
            .filter_map(|(labels, _)| labels.get("shard_id").cloned())
            .collect()
    }

    pub(super) fn family_type(&self, name: &str) -> OpenMetricsType {
        self.family(name).family_type
    }
}
