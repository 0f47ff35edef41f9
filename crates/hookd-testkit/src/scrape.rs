//! [`Scrape`]: a `/metrics` page read back into numbers, so a test can say "this counter
//! moved by N" without parsing text itself.

use std::collections::{BTreeMap, BTreeSet};

/// One read of a Prometheus text page.
#[derive(Clone, Debug)]
pub struct Scrape {
    /// The page as served.
    pub text: String,
    /// Every sample: the series as written (`name{labels}`) and its value.
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    /// Reads a page in the text exposition format. Panics on a sample line it cannot read:
    /// hookd must never serve one.
    pub fn parse(text: &str) -> Scrape {
        let mut samples = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("a sample line without a value: {line:?}"));
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("a sample value that is no number: {line:?}")),
            };
            assert!(
                samples.insert(series.to_owned(), value).is_none(),
                "a series served twice: {series}"
            );
        }
        Scrape {
            text: text.to_owned(),
            samples,
        }
    }

    /// The value of `series` (written as served: `name` or `name{k="v",...}`); 0 when the
    /// page does not have it.
    pub fn get(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }

    /// Whether the page has `series`.
    pub fn has(&self, series: &str) -> bool {
        self.samples.contains_key(series)
    }

    /// The series whose name is `name` (any labels), with their values.
    pub fn series(&self, name: &str) -> Vec<(&str, f64)> {
        self.samples
            .iter()
            .filter(|(s, _)| s.split('{').next() == Some(name))
            .map(|(s, v)| (s.as_str(), *v))
            .collect()
    }

    /// The metric names the page declares (`# TYPE` lines).
    pub fn names(&self) -> BTreeSet<String> {
        self.text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_reads_back_into_series() {
        let page = "# HELP a_total A.\n# TYPE a_total counter\na_total{k=\"v w\"} 3\n\
                    # TYPE b histogram\nb_bucket{le=\"+Inf\"} 2\nb_sum 0.5\nb_count 2\n";
        let s = Scrape::parse(page);
        assert_eq!(s.get("a_total{k=\"v w\"}"), 3.0);
        assert_eq!(s.get("b_bucket{le=\"+Inf\"}"), 2.0);
        assert_eq!(s.get("missing"), 0.0);
        assert_eq!(s.series("b_count"), [("b_count", 2.0)]);
        assert_eq!(s.names().into_iter().collect::<Vec<_>>(), ["a_total", "b"]);
    }
}
