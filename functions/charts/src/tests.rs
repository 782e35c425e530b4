use super::*;

fn points(values: &[f64], band: Option<Band>) -> Vec<Point> {
    values
        .iter()
        .enumerate()
        .map(|(i, &value)| Point {
            label: format!("12-{:02} 03:00", i + 1),
            value,
            band,
        })
        .collect()
}

fn coverage_chart(highlight: Option<usize>) -> Chart {
    Chart {
        highlight,
        ..Chart::new("catalog_coverage of spring-2026", "version", "catalog_coverage")
    }
}

/// Width and height from the PNG signature and its IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&png[12..16], b"IHDR", "the first chunk is IHDR");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The decoded RGB pixels.
fn pixels(png: &[u8]) -> Vec<[u8; 3]> {
    let mut reader = png::Decoder::new(png).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf[..info.buffer_size()]
        .chunks_exact(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect()
}

/// Pixels within a few levels of `colour` (anti-aliased edges aside).
fn count_near(pixels: &[[u8; 3]], colour: [u8; 3]) -> usize {
    pixels
        .iter()
        .filter(|p| p.iter().zip(colour).all(|(a, b)| a.abs_diff(b) <= 3))
        .count()
}

/// The band's fill over white, and the highlight's red.
const BAND_ON_WHITE: [u8; 3] = [208, 222, 243];
const RED: [u8; 3] = [HIGHLIGHT.0, HIGHLIGHT.1, HIGHLIGHT.2];

#[test]
fn the_output_is_a_png_of_the_size_asked() {
    let series = points(&[0.31, 0.30, 0.32, 0.29, 0.10], None);
    let png = render_png(&coverage_chart(Some(4)), &series).unwrap();
    assert_eq!(png_size(&png), SLACK_SIZE);
    let small = Chart {
        size: (320, 200),
        ..coverage_chart(None)
    };
    let png = render_png(&small, &series).unwrap();
    assert_eq!(png_size(&png), (320, 200));
    assert_eq!(pixels(&png).len(), 320 * 200);
}

#[test]
fn a_band_is_shaded_only_when_given_and_the_highlight_is_red() {
    let band = Band {
        low: 0.27,
        high: 0.33,
    };
    let with_band = pixels(
        &render_png(
            &coverage_chart(Some(4)),
            &points(&[0.31, 0.30, 0.32, 0.29, 0.10], Some(band)),
        )
        .unwrap(),
    );
    let without = pixels(
        &render_png(
            &coverage_chart(None),
            &points(&[0.31, 0.30, 0.32, 0.29, 0.10], None),
        )
        .unwrap(),
    );
    assert!(
        count_near(&with_band, BAND_ON_WHITE) > 5_000,
        "the band covers a good part of the plot"
    );
    assert_eq!(count_near(&without, BAND_ON_WHITE), 0, "no band, no shade");
    assert!(count_near(&with_band, RED) > 50, "the held value is drawn in red");
    assert_eq!(count_near(&without, RED), 0, "nothing highlighted, nothing red");
}

#[test]
fn bands_may_differ_per_point_and_be_missing_for_some() {
    // Days of a KPI: a band for most days, none for the first (too little history).
    let mut series = points(&[10.0, 12.0, 11.0, 13.0, 30.0], None);
    for (i, point) in series.iter_mut().enumerate().skip(1) {
        point.band = Some(Band {
            low: 8.0 + i as f64,
            high: 14.0 + i as f64,
        });
    }
    let png = render_png(&coverage_chart(Some(4)), &series).unwrap();
    assert!(count_near(&pixels(&png), BAND_ON_WHITE) > 1_000);
    assert_eq!(band_polygons(&series).len(), 1, "one run of banded points");
    // A lone banded point is a short bar around it.
    let lone = band_polygons(&points(&[1.0], Some(Band { low: 0.5, high: 1.5 })));
    assert_eq!(lone, vec![vec![(-0.3, 1.5), (0.3, 1.5), (0.3, 0.5), (-0.3, 0.5)]]);
}

#[test]
fn one_point_and_a_flat_series_draw() {
    if let Ok(dir) = std::env::var("CHARTS_SAMPLE_DIR") {
        // To look at: CHARTS_SAMPLE_DIR=/tmp cargo nextest run -p recoflow-charts
        let band = Some(Band {
            low: 0.27,
            high: 0.33,
        });
        let mut series = points(&[0.31, 0.30, 0.32, 0.29, 0.31, 0.30, 0.32, 0.10], band);
        series[7].label = "20261208T030000Z-0a1b2c3d".into();
        let png = render_png(&coverage_chart(Some(7)), &series).unwrap();
        std::fs::write(format!("{dir}/chart-sample.png"), png).unwrap();
        let days = points(
            &(0..30).map(|d| 100.0 + (d % 7) as f64 * 3.0).collect::<Vec<_>>(),
            band.map(|_| Band {
                low: 95.0,
                high: 125.0,
            }),
        );
        std::fs::write(
            format!("{dir}/chart-days.png"),
            render_png(&coverage_chart(Some(29)), &days).unwrap(),
        )
        .unwrap();
    }
    let png = render_png(&coverage_chart(Some(0)), &points(&[0.2], None)).unwrap();
    assert_eq!(png_size(&png), SLACK_SIZE);
    assert!(render_png(&coverage_chart(None), &points(&[5.0; 6], None)).is_ok());
    assert_eq!(y_range(&points(&[5.0; 3], None)), (4.0, 6.0));
}

#[test]
fn bad_input_is_refused_naming_what_is_wrong() {
    assert_eq!(render_png(&coverage_chart(None), &[]), Err(ChartError::NoPoints));
    let err = render_png(&coverage_chart(None), &points(&[1.0, f64::NAN], None)).unwrap_err();
    assert!(
        matches!(err, ChartError::ValueNotFinite { index: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("point 1 (12-02 03:00)"), "{err}");
    let inverted = Some(Band { low: 2.0, high: 1.0 });
    let err = render_png(&coverage_chart(None), &points(&[1.0], inverted)).unwrap_err();
    assert!(matches!(err, ChartError::BandInvalid { index: 0, .. }), "{err:?}");
    let err = render_png(&coverage_chart(Some(3)), &points(&[1.0, 2.0], None)).unwrap_err();
    assert_eq!(err, ChartError::HighlightMissing { index: 3, points: 2 });
    let huge = Chart {
        size: (100_000, 400),
        ..coverage_chart(None)
    };
    let err = render_png(&huge, &points(&[1.0], None)).unwrap_err();
    assert!(err.to_string().starts_with("size 100000×400"), "{err}");
}

#[test]
fn values_read_as_people_write_them() {
    assert_eq!(format_value(1234.0), "1234");
    assert_eq!(format_value(0.05), "0.0500");
    assert_eq!(format_value(0.333_333), "0.333");
    assert_eq!(format_value(12.345), "12.3");
    assert_eq!(format_value(-0.5), "-0.500");
    assert_eq!(format_value(250.25), "250.2");
}

#[test]
fn the_x_axis_shows_at_most_ten_labels_and_always_the_last() {
    let days = points(&[1.0; 30], None);
    let step = label_step(days.len());
    let shown: Vec<String> = (0..days.len())
        .map(|i| x_label_at(&days, step, i as f64))
        .filter(|l| !l.is_empty())
        .collect();
    assert!(shown.len() <= MAX_X_LABELS, "{shown:?}");
    assert_eq!(shown.last().unwrap(), "12-30 03:00");
    assert_eq!(x_label_at(&days, step, 0.5), "", "between points");
    assert_eq!(short_label("20261201T085409Z-0a1b2c3d"), "20261201T08…");
}
