use time::macros::date;
use time::{Date, Duration, Weekday};

use super::*;
use crate::events::aggregates::Counts;
use crate::monitoring::Triage;

/// Day 0 of the synthetic series: a Monday.
const START: Date = date!(2026 - 10 - 26);

fn normal(rng: &mut fastrand::Rng) -> f64 {
    // Box–Muller.
    let (u, v) = (rng.f64().max(f64::MIN_POSITIVE), rng.f64());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A count of successes out of `n` at rate `p`, by the normal approximation (n p is large).
fn draws(rng: &mut fastrand::Rng, n: i64, p: f64) -> i64 {
    let mean = n as f64 * p;
    (mean + (mean * (1.0 - p)).sqrt() * normal(rng)).round().max(0.0) as i64
}

/// `days` days of a placement whose traffic and rates dip on weekends (10,000 impressions and
/// 4 % CTR on weekdays, 6,000 and 3 % on Saturdays and Sundays), with binomial noise; `ctr_on`
/// overrides the CTR of a day.
fn synthetic(seed: u64, days: i64, ctr_on: &[(i64, f64)]) -> Vec<DayTotals> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..days)
        .map(|i| {
            let day = START + Duration::days(i);
            let weekend = matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday);
            let (traffic, ctr, cart, cvr) = if weekend {
                (6_000.0, 0.03, 0.008, 0.003)
            } else {
                (10_000.0, 0.04, 0.012, 0.005)
            };
            let ctr = ctr_on.iter().find(|(d, _)| *d == i).map_or(ctr, |(_, c)| *c);
            let impressions = (traffic * (1.0 + 0.02 * normal(&mut rng))).round() as i64;
            let purchases = draws(&mut rng, impressions, cvr);
            let revenue = purchases as f64 * 30.0 * (1.0 + 0.05 * normal(&mut rng));
            DayTotals {
                day,
                counts: Counts {
                    impressions,
                    clicks: draws(&mut rng, impressions, ctr),
                    add_to_cart: draws(&mut rng, impressions, cart),
                    purchases,
                    revenue,
                    revenue_sq: revenue * 30.0,
                    wins: 0,
                },
                versions: ["v1".to_owned()].into(),
            }
        })
        .collect()
}

/// Every breach of the checks of each day of the fifth week, as the daily check sees them
/// (each day with the days before it).
fn breaches_by_day(totals: &[DayTotals], sensitivity: Sensitivity) -> Vec<(usize, KpiCheck)> {
    (28..totals.len())
        .flat_map(|last| {
            check_day(&totals[..=last], sensitivity)
                .into_iter()
                .filter(KpiCheck::is_breach)
                .map(move |c| (last, c))
        })
        .collect()
}

/// Fixed series (seeds): a steady series leaves its band in about 0.7 % of checks (the
/// simulation below), so a week of 35 checks on each of two series passes clean for about
/// half of all seeds; the example is three of those, the rate is the simulation's.
#[test]
fn weekend_dips_alone_raise_no_alert_and_a_weekday_drop_raises_one() {
    // Wednesday of the fifth week: the CTR falls from 4 % to 2.4 %.
    let drop_day = 30;
    assert_eq!((START + Duration::days(drop_day)).weekday(), Weekday::Wednesday);
    for seed in [2, 5, 6] {
        let steady = synthetic(seed, 35, &[]);
        let found = breaches_by_day(&steady, Sensitivity::Normal);
        assert!(found.is_empty(), "seed {seed}: weekend dips alone: {found:#?}");

        let dropped = synthetic(seed, 35, &[(drop_day, 0.024)]);
        let found = breaches_by_day(&dropped, Sensitivity::Normal);
        let summary: Vec<(usize, Kpi)> = found.iter().map(|(d, c)| (*d, c.kpi)).collect();
        assert_eq!(summary, [(drop_day as usize, Kpi::Ctr)], "seed {seed}");
        let check = &found[0].1;
        let Verdict::Outside { expected, direction } = check.verdict else {
            unreachable!()
        };
        assert_eq!(direction, Direction::Below);
        assert!(
            expected.low > 0.03 && expected.high < 0.05,
            "a weekday's band: {expected:?}"
        );
        assert!((check.value - 0.024).abs() < 0.004, "{}", check.value);
        // The chart: four weeks and the day, weekends' band below weekdays'.
        assert_eq!(check.chart.len(), CHART_DAYS + 1);
        assert_eq!(check.chart.last().unwrap().0, START + Duration::days(drop_day));
        let band_on = |weekday: Weekday| {
            check
                .chart
                .iter()
                .filter(|(d, _, _)| d.weekday() == weekday)
                .find_map(|(_, _, b)| *b)
                .unwrap()
        };
        let (sunday, tuesday) = (band_on(Weekday::Sunday), band_on(Weekday::Tuesday));
        assert!(
            sunday.forecast < 0.033 && tuesday.forecast > 0.037,
            "{sunday:?} {tuesday:?}"
        );
    }
}

#[test]
fn a_weekend_day_is_judged_by_weekends() {
    let totals = synthetic(7, 34, &[]);
    let saturday = totals.last().unwrap();
    assert_eq!(saturday.day.weekday(), Weekday::Saturday);
    let checks = check_day(&totals, Sensitivity::Normal);
    let ctr = checks.iter().find(|c| c.kpi == Kpi::Ctr).unwrap();
    let Verdict::Inside(expected) = ctr.verdict else {
        panic!("{:?}", ctr.verdict)
    };
    assert!(
        (expected.forecast - 0.03).abs() < 0.002,
        "a weekend's CTR: {expected:?}"
    );
    assert!(expected.high < 0.04 && expected.low > 0.02, "{expected:?}");
}

#[test]
fn too_little_history_or_no_impressions_is_not_judged_as_a_breach() {
    let short = synthetic(3, 15, &[]);
    let checks = check_day(&short, Sensitivity::High);
    assert!(
        checks.iter().all(|c| matches!(c.verdict, Verdict::NotJudged(_))),
        "{checks:?}"
    );

    let mut silent = synthetic(3, 35, &[]);
    silent.last_mut().unwrap().counts = Counts::default();
    let checks = check_day(&silent, Sensitivity::Normal);
    let impressions = &checks[0];
    assert_eq!(impressions.kpi, Kpi::Impressions);
    assert!(impressions.is_breach());
    assert!(checks[1..].iter().all(|c| c.verdict == Verdict::NoValue));
    let alerts = breaches("home-top", &checks, &silent, None, "2026-11-30T00:15:00Z");
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].triage, alerts[0].direction),
        (Triage::Data, Direction::Below)
    );
    assert_eq!(alerts[0].day, "2026-11-29");
}

#[test]
fn a_drop_after_a_new_version_is_the_model_and_after_a_change_the_configuration() {
    let mut totals = synthetic(5, 31, &[(30, 0.024)]);
    totals.last_mut().unwrap().versions = ["v2".to_owned()].into();
    let checks = check_day(&totals, Sensitivity::Normal);
    let alerts = breaches("home-top", &checks, &totals, None, "now");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!((alerts[0].kpi, alerts[0].triage), (Kpi::Ctr, Triage::Model));
    let alerts = breaches("home-top", &checks, &totals, Some(4), "now");
    assert_eq!(alerts[0].triage, Triage::Configuration);
}

/// Simulation: over 40 steady series checked daily through their fifth week (40 × 7 × 5
/// checks), false alerts stay rare at `normal`; a weekday CTR drop to 60 % is always caught.
#[test]
fn false_alerts_are_rare_and_a_forty_percent_drop_is_caught() {
    let (mut false_alerts, mut checks, mut caught) = (0, 0, 0);
    let series = 40;
    for seed in 100..100 + series {
        let steady = synthetic(seed, 35, &[]);
        for last in 28..35 {
            let day = check_day(&steady[..=last], Sensitivity::Normal);
            checks += day.len();
            false_alerts += day.iter().filter(|c| c.is_breach()).count();
        }
        let drop_day = 28 + (seed % 5) as i64; // a weekday of the fifth week
        let dropped = synthetic(seed, drop_day + 1, &[(drop_day, 0.024)]);
        let day = check_day(&dropped, Sensitivity::Normal);
        caught += usize::from(day.iter().any(|c| c.kpi == Kpi::Ctr && c.is_breach()));
    }
    let rate = false_alerts as f64 / checks as f64;
    assert!(rate <= 0.01, "false alerts {false_alerts} of {checks} checks");
    assert_eq!(caught, series as usize);
}
