//! The seasonal band a day's KPI is judged by: an MSTL decomposition of the days before it with
//! a weekly period (so weekends are expected to differ from weekdays) and an AutoETS model of
//! the trend (augurs), forecast one day ahead with a prediction interval. The same fit's
//! in-sample intervals are the band drawn over the past days of the alert's chart.

use augurs::ets::AutoETS;
use augurs::mstl::stlrs::{MstlParams, StlParams};
use augurs::mstl::MSTLModel;
use augurs::prelude::*;

use super::{Expected, Sensitivity};

/// Days in the seasonal period: KPIs follow the week.
pub const WEEK: usize = 7;
/// Fewer days of history than this: no band (MSTL needs two periods; three weeks keep one
/// unusual week from setting the pattern).
pub const MIN_HISTORY_DAYS: usize = 3 * WEEK;
/// At most this many days of history are fitted (eight weeks: recent enough to follow a trend).
pub const MAX_HISTORY_DAYS: usize = 8 * WEEK;
/// The seasonal smoother spans this many weeks (odd, at least 7): wider than the history, so
/// each weekday's pattern is learnt from all its weeks. STL's default (7) follows the last
/// weeks' noise into the pattern, and the forecast's interval, which only knows the trend's
/// errors, comes out too narrow.
const SEASONAL_SMOOTHER: usize = 2 * (MAX_HISTORY_DAYS / WEEK) + 1;
/// The forecast's interval is widened by this factor: it knows the trend model's one-step
/// errors only, not the error of a weekly pattern learnt from a few weeks. Set by simulation
/// (`check_tests`: steady weekly series with binomial noise leave a 99 % band about 1 % of
/// the time with it, 5 % without).
const INTERVAL_WIDENING: f64 = 1.5;

/// The band of the day after `history` and of each day of it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeasonalBand {
    /// The checked day's expected range.
    pub next: Expected,
    /// One per day of the history given, oldest first (`None` before the days fitted, and
    /// where the fit gave no finite interval).
    pub past: Vec<Option<Expected>>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BandError {
    #[error("{days} day(s) of history with a value; a seasonal band needs {MIN_HISTORY_DAYS}")]
    TooLittleHistory { days: usize },
    #[error("the forecast failed: {0}")]
    Forecast(String),
}

impl Sensitivity {
    /// The prediction interval's coverage: the more sensitive, the narrower the band. Several
    /// KPIs are checked daily, so even `high` keeps false alerts to a few a month.
    pub fn interval_level(self) -> f64 {
        match self {
            Sensitivity::Low => 0.999,
            Sensitivity::Normal => 0.99,
            Sensitivity::High => 0.95,
        }
    }
}

/// The band of the day after `history` (daily values, oldest first; `NaN` for a day without a
/// value, filled in by linear interpolation). `floor` bounds the band from below (a rate or a
/// count is never negative).
pub fn seasonal_band(history: &[f64], level: f64, floor: f64) -> Result<SeasonalBand, BandError> {
    let start = history.len().saturating_sub(MAX_HISTORY_DAYS);
    let start = start + leading_gaps(&history[start..]);
    let skipped = start;
    let history = &history[start..];
    let known = history.iter().filter(|v| v.is_finite()).count();
    if known < MIN_HISTORY_DAYS || history.len() < MIN_HISTORY_DAYS {
        return Err(BandError::TooLittleHistory { days: known });
    }
    let filled = interpolate(history);
    let forecast_error = |e: &dyn std::fmt::Display| BandError::Forecast(e.to_string());
    let mut stl = StlParams::new();
    // Robust: one unusual day (an earlier breach) does not bend the weekly pattern.
    stl.robust(true);
    let mut params = MstlParams::new();
    params.seasonal_lengths(&[SEASONAL_SMOOTHER]).stl_params(stl);
    let model = MSTLModel::new(vec![WEEK], AutoETS::non_seasonal().into_trend_model()).mstl_params(params);
    let fitted = model.fit(&filled).map_err(|e| forecast_error(&e))?;
    let ahead = fitted.predict(1, level).map_err(|e| forecast_error(&e))?;
    let in_sample = fitted.predict_in_sample(level).map_err(|e| forecast_error(&e))?;
    let next = expected_at(&ahead, 0, floor)
        .ok_or_else(|| BandError::Forecast("the forecast gave no finite prediction interval".to_owned()))?;
    // Days before those fitted have no band.
    let past = std::iter::repeat_n(None, skipped)
        .chain((0..filled.len()).map(|i| expected_at(&in_sample, i, floor)))
        .collect();
    Ok(SeasonalBand { next, past })
}

fn expected_at(forecast: &Forecast, index: usize, floor: f64) -> Option<Expected> {
    let intervals = forecast.intervals.as_ref()?;
    let (point, low, high) = (
        *forecast.point.get(index)?,
        *intervals.lower.get(index)?,
        *intervals.upper.get(index)?,
    );
    (point.is_finite() && low.is_finite() && high.is_finite()).then(|| Expected {
        forecast: point.max(floor),
        low: (point - (point - low) * INTERVAL_WIDENING).max(floor),
        high: (point + (high - point) * INTERVAL_WIDENING).max(floor),
    })
}

/// Days before the history's first value (a placement's first days have none).
fn leading_gaps(history: &[f64]) -> usize {
    history
        .iter()
        .position(|v| v.is_finite())
        .unwrap_or(history.len())
}

/// Gaps filled by linear interpolation between their neighbours (the last value carried on
/// at the end); the first value is known.
fn interpolate(history: &[f64]) -> Vec<f64> {
    let mut filled = history.to_vec();
    let mut last_known: Option<usize> = None;
    for i in 0..filled.len() {
        if !filled[i].is_finite() {
            continue;
        }
        if let Some(before) = last_known {
            let (a, b) = (filled[before], filled[i]);
            let span = (i - before) as f64;
            for (step, gap) in (before + 1..i).enumerate() {
                filled[gap] = a + (b - a) * (step + 1) as f64 / span;
            }
        }
        last_known = Some(i);
    }
    if let Some(last) = last_known {
        let value = filled[last];
        filled[last + 1..].iter_mut().for_each(|v| *v = value);
    }
    filled
}
