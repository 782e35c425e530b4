//! A band of usual values learnt from a short history (a result set's last versions): the
//! median ± k·MAD, robust to the odd outlier in the history itself. The order statistics come
//! from `statrs`.

use statrs::statistics::{Data, OrderStatistics};

/// How many scaled MADs from the median a value may lie (3: the usual robust z-score cut).
pub const BAND_MADS: f64 = 3.0;
/// MAD × this estimates the standard deviation of normally distributed values.
const MAD_TO_SIGMA: f64 = 1.4826;
/// The band is at least this share of the median wide on each side: a history of identical
/// values (MAD 0) must not hold back a version that differs by a rounding.
pub const MIN_RELATIVE_HALF_WIDTH: f64 = 0.10;
/// Fewer past values than this: no band (the anomaly rule is skipped with a note).
pub const MIN_HISTORY: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub median: f64,
    pub low: f64,
    pub high: f64,
}

impl Band {
    pub fn contains(&self, value: f64) -> bool {
        (self.low..=self.high).contains(&value)
    }
}

/// The median and the median absolute deviation of `values`.
pub fn median_and_mad(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let median = Data::new(values.to_vec()).median();
    let deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    Some((median, Data::new(deviations).median()))
}

/// The band of `history` (oldest first), or `None` with too little history.
pub fn robust_band(history: &[f64]) -> Option<Band> {
    if history.len() < MIN_HISTORY {
        return None;
    }
    let (median, mad) = median_and_mad(history)?;
    let half = (BAND_MADS * MAD_TO_SIGMA * mad).max(MIN_RELATIVE_HALF_WIDTH * median.abs());
    Some(Band {
        median,
        low: median - half,
        high: median + half,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook example: 1 1 2 2 4 6 9 has median 2 and MAD 1.
    #[test]
    fn median_and_mad_match_the_worked_example() {
        assert_eq!(
            median_and_mad(&[1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0]),
            Some((2.0, 1.0))
        );
        // Even count: the middle two averaged (0 2 5 6 → 3.5; deviations 3.5 1.5 1.5 2.5 → 2).
        assert_eq!(median_and_mad(&[0.0, 2.0, 5.0, 6.0]), Some((3.5, 2.0)));
        assert_eq!(median_and_mad(&[]), None);
    }

    #[test]
    fn the_band_is_robust_and_never_zero_wide() {
        let band = robust_band(&[1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0]).unwrap();
        assert!((band.low - (2.0 - 3.0 * 1.4826)).abs() < 1e-9, "{band:?}");
        assert!(band.contains(5.0) && !band.contains(7.0));
        // One wild value in the history barely moves it.
        let steady = robust_band(&[0.30, 0.31, 0.29, 0.30, 0.32, 0.30, 0.90]).unwrap();
        assert!(steady.contains(0.31) && !steady.contains(0.10), "{steady:?}");
        // Identical history: ±10 % of the median.
        let flat = robust_band(&[0.3; 7]).unwrap();
        assert!(flat.contains(0.32) && !flat.contains(0.1), "{flat:?}");
        assert!(robust_band(&[0.3; 4]).is_none(), "too little history");
    }

    /// Simulation: values drawn from a steady process fall outside the band rarely (the
    /// gate's false alarms), a level that drops to a third always does.
    #[test]
    fn steady_values_rarely_leave_the_band_and_a_drop_to_a_third_always_does() {
        let mut rng = fastrand::Rng::with_seed(11);
        let (mut outside, mut missed, trials) = (0, 0, 2_000);
        for _ in 0..trials {
            // Coverage around 0.30 with ±5 % noise (uniform), 8 versions of history.
            let mut draw = || 0.30 * (1.0 + (rng.f64() - 0.5) * 0.1);
            let history: Vec<f64> = (0..8).map(|_| draw()).collect();
            let band = robust_band(&history).unwrap();
            if !band.contains(draw()) {
                outside += 1;
            }
            if band.contains(draw() / 3.0) {
                missed += 1;
            }
        }
        assert!(outside * 100 <= trials, "false alarms: {outside} of {trials}");
        assert_eq!(missed, 0);
    }
}
