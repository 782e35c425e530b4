//! PNG charts for Slack messages: one series of `(label, value)` points (a metric over a result
//! set's versions, a KPI over days) with an optional shaded band per point (the usual range the
//! value is judged against) and one highlighted point (the value a message is about).
//!
//! Drawn with `plotters` into an RGB buffer and encoded with `png`: no file is written and no
//! system font is read (Lambda has none); text uses DejaVu Sans, embedded by the `dejavu` crate.

use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

/// A chart that reads well in a Slack image block.
pub const SLACK_SIZE: (u32, u32) = (800, 400);
/// Sizes outside these are refused (a typo in a size must not allocate gigabytes).
const MIN_SIZE: (u32, u32) = (200, 100);
const MAX_SIDE: u32 = 4_000;
/// At most this many labels on the x axis; the others are left out so labels never overlap.
const MAX_X_LABELS: usize = 10;
/// Longer labels are shortened (a version id is long; its date says enough).
const MAX_LABEL_CHARS: usize = 12;
/// The family name the embedded font is registered under.
const FONT: &str = "sans-serif";

const LINE: RGBColor = RGBColor(31, 78, 153);
const BAND: RGBColor = RGBColor(120, 160, 220);
const HIGHLIGHT: RGBColor = RGBColor(214, 39, 40);
const GRID: RGBColor = RGBColor(225, 225, 225);

/// The range a point's value is expected in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub low: f64,
    pub high: f64,
}

/// One point of the series, in x order.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    pub value: f64,
    pub band: Option<Band>,
}

/// What the chart says around its points.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Pixels, width × height.
    pub size: (u32, u32),
    /// The point drawn in red, with its value written beside it.
    pub highlight: Option<usize>,
}

impl Chart {
    /// A chart of Slack's size with nothing highlighted.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            title: title.to_owned(),
            x_label: x_label.to_owned(),
            y_label: y_label.to_owned(),
            size: SLACK_SIZE,
            highlight: None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ChartError {
    #[error("a chart needs at least one point")]
    NoPoints,
    #[error("point {index} ({label}): the value {value} is not a finite number")]
    ValueNotFinite { index: usize, label: String, value: f64 },
    #[error("point {index} ({label}): the band {low}..{high} is not a finite range with low ≤ high")]
    BandInvalid {
        index: usize,
        label: String,
        low: f64,
        high: f64,
    },
    #[error("highlight: point {index} does not exist (the chart has {points} points)")]
    HighlightMissing { index: usize, points: usize },
    #[error("size {width}×{height}: a chart is at least {}×{} and at most {MAX_SIDE} pixels a side", MIN_SIZE.0, MIN_SIZE.1)]
    Size { width: u32, height: u32 },
    #[error("the embedded font could not be loaded")]
    Font,
    #[error("drawing the chart: {0}")]
    Draw(String),
    #[error("encoding the PNG: {0}")]
    Encode(String),
}

/// Draws `points` as a PNG of `chart.size`.
pub fn render_png(chart: &Chart, points: &[Point]) -> Result<Vec<u8>, ChartError> {
    check(chart, points)?;
    register_embedded_font()?;
    let (width, height) = chart.size;
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    draw(chart, points, &mut rgb).map_err(ChartError::Draw)?;
    encode_png(&rgb, chart.size)
}

fn check(chart: &Chart, points: &[Point]) -> Result<(), ChartError> {
    let (width, height) = chart.size;
    if width < MIN_SIZE.0 || height < MIN_SIZE.1 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(ChartError::Size { width, height });
    }
    if points.is_empty() {
        return Err(ChartError::NoPoints);
    }
    for (index, point) in points.iter().enumerate() {
        if !point.value.is_finite() {
            return Err(ChartError::ValueNotFinite {
                index,
                label: point.label.clone(),
                value: point.value,
            });
        }
        if let Some(Band { low, high }) = point.band {
            if !(low.is_finite() && high.is_finite() && low <= high) {
                return Err(ChartError::BandInvalid {
                    index,
                    label: point.label.clone(),
                    low,
                    high,
                });
            }
        }
    }
    match chart.highlight {
        Some(index) if index >= points.len() => Err(ChartError::HighlightMissing {
            index,
            points: points.len(),
        }),
        _ => Ok(()),
    }
}

fn register_embedded_font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered =
        REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok());
    registered.then_some(()).ok_or(ChartError::Font)
}

/// The y range: every value and band edge, with a margin (a flat series gets one too).
fn y_range(points: &[Point]) -> (f64, f64) {
    let edges = points
        .iter()
        .flat_map(|p| [Some(p.value), p.band.map(|b| b.low), p.band.map(|b| b.high)])
        .flatten();
    let (low, high) = edges.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let margin = if high > low {
        (high - low) * 0.12
    } else {
        (high.abs() * 0.1).max(1.0)
    };
    (low - margin, high + margin)
}

/// A value as people read it: whole numbers whole, others to three significant digits.
pub fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 100.0 {
        format!("{value:.1}")
    } else {
        let decimals = (2 - value.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{value:.decimals$}")
    }
}

fn short_label(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        return label.to_owned();
    }
    let kept: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
    format!("{kept}…")
}

/// Every how many points a label is shown, so that at most [`MAX_X_LABELS`] are.
fn label_step(points: usize) -> usize {
    points.saturating_sub(1).div_ceil(MAX_X_LABELS - 1).max(1)
}

/// The x label of an axis position: a point's label at whole positions, every `step`-th one.
fn x_label_at(points: &[Point], step: usize, x: f64) -> String {
    let index = x.round();
    if (x - index).abs() > 1e-6 || index < 0.0 {
        return String::new();
    }
    let index = index as usize;
    let last = points.len() - 1;
    // The last point (usually the newest, the one that matters) always keeps its label.
    let shown = index == last || (index.is_multiple_of(step) && last - index >= step.div_ceil(2));
    match points.get(index) {
        Some(point) if shown => short_label(&point.label),
        _ => String::new(),
    }
}

/// Runs of consecutive points that have a band, as polygons (upper edge forward, lower edge
/// back); a lone point's band is a short bar around it.
fn band_polygons(points: &[Point]) -> Vec<Vec<(f64, f64)>> {
    let mut polygons = Vec::new();
    let mut run: Vec<(f64, Band)> = Vec::new();
    let mut close = |run: &mut Vec<(f64, Band)>| {
        match run.as_slice() {
            [] => {}
            [(x, band)] => polygons.push(vec![
                (x - 0.3, band.high),
                (x + 0.3, band.high),
                (x + 0.3, band.low),
                (x - 0.3, band.low),
            ]),
            many => {
                let upper = many.iter().map(|(x, b)| (*x, b.high));
                let lower = many.iter().rev().map(|(x, b)| (*x, b.low));
                polygons.push(upper.chain(lower).collect());
            }
        }
        run.clear();
    };
    for (index, point) in points.iter().enumerate() {
        match point.band {
            Some(band) => run.push((index as f64, band)),
            None => close(&mut run),
        }
    }
    close(&mut run);
    polygons
}

fn draw(chart: &Chart, points: &[Point], rgb: &mut [u8]) -> Result<(), String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let root = BitMapBackend::with_buffer(rgb, chart.size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| text(&e))?;
    let (y_low, y_high) = y_range(points);
    let x_end = points.len() as f64 - 0.5;
    let mut plot = ChartBuilder::on(&root)
        .margin(14)
        .margin_right(40)
        .caption(&chart.title, (FONT, 22))
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..x_end, y_low..y_high)
        .map_err(|e| text(&e))?;
    let step = label_step(points.len());
    plot.configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        // Ticks at every half position, so every point has one; the formatter picks labels.
        .x_labels(points.len() * 2 + 1)
        .x_label_formatter(&|x| x_label_at(points, step, *x))
        .y_label_formatter(&|y| format_value(*y))
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(|e| text(&e))?;

    let polygons = band_polygons(points);
    if !polygons.is_empty() {
        plot.draw_series(
            polygons
                .into_iter()
                .map(|p| Polygon::new(p, BAND.mix(0.35).filled())),
        )
        .map_err(|e| text(&e))?
        .label("usual range")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], BAND.mix(0.35).filled()));
    }
    let series = points.iter().enumerate().map(|(i, p)| (i as f64, p.value));
    plot.draw_series(LineSeries::new(series.clone(), LINE.stroke_width(2)))
        .map_err(|e| text(&e))?
        .label(&chart.y_label)
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], LINE.stroke_width(2)));
    plot.draw_series(series.map(|xy| Circle::new(xy, 3, LINE.filled())))
        .map_err(|e| text(&e))?;
    if let Some(index) = chart.highlight {
        let point = (index as f64, points[index].value);
        let value = format_value(points[index].value);
        plot.draw_series([Circle::new(point, 7, HIGHLIGHT.filled())])
            .map_err(|e| text(&e))?;
        // The value's text to the left of the point when the point is on the right half.
        let right_half = index as f64 > x_end / 2.0;
        let offset = if right_half {
            -(12 + 8 * value.len() as i32)
        } else {
            12
        };
        plot.draw_series([EmptyElement::at(point)
            + Text::new(value, (offset, -8), (FONT, 15).into_font().color(&HIGHLIGHT))])
            .map_err(|e| text(&e))?;
    }
    plot.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(GRID)
        .label_font((FONT, 13))
        .draw()
        .map_err(|e| text(&e))?;
    root.present().map_err(|e| text(&e))
}

fn encode_png(rgb: &[u8], (width, height): (u32, u32)) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| ChartError::Encode(e.to_string()))?;
    writer
        .write_image_data(rgb)
        .map_err(|e| ChartError::Encode(e.to_string()))?;
    writer.finish().map_err(|e| ChartError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests;
