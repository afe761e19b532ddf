//! Small statistics for benchmark tables.

/// Min, median and max of a sample.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(samples: &[f64]) -> Option<Self> {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = match n {
            0 => return None,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Some(Self { min: sorted[0], median, max: sorted[n - 1] })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({ "min": self.min, "median": self.median, "max": self.max })
    }
}

#[cfg(test)]
mod tests {
    use super::Summary;

    #[test]
    fn median_of_odd_and_even_samples() {
        let s = Summary::of(&[3.0, 1.0, 2.0]).expect("summary");
        assert_eq!((s.min, s.median, s.max), (1.0, 2.0, 3.0));
        assert_eq!(Summary::of(&[4.0, 1.0, 2.0, 3.0]).expect("summary").median, 2.5);
        assert!(Summary::of(&[]).is_none());
    }
}
