//! Serving metrics. Each answer of the recommendations route is one embedded-metric-format
//! (EMF) log line: CloudWatch turns it into the metrics `Answers` (Count) and `LatencyMs`
//! (Milliseconds) by result set and source and by status, and `VersionAgeSeconds` by result
//! set, at no call of our own. The stack's dashboard and `GET /result-sets/{rs}` read them back.

use std::collections::BTreeMap;

use recoflow_core::ports::{MetricId, MetricSums};
use serde::Serialize;
use serde_json::{json, Value};
use tracing::warn;

pub const NAMESPACE: &str = "recoflow";
pub const ANSWERS: &str = "Answers";
pub const LATENCY: &str = "LatencyMs";
pub const VERSION_AGE: &str = "VersionAgeSeconds";
/// Where an answer's list came from (the `source` of the recommendations answer).
pub const SOURCES: [&str; 3] = ["personalized", "segment", "global"];
/// The window `GET /result-sets/{rs}` shows the answers of.
pub const ANSWERS_WINDOW_SECONDS: i64 = 3_600;

/// What one answer of the recommendations route says about itself.
pub struct AnswerMetrics<'a> {
    /// The HTTP status answered.
    pub status: u16,
    /// For an answer with a list: its result set, source and the version's age. Errors carry
    /// no result set: a made-up name must not become a metric of its own.
    pub served: Option<Served<'a>>,
    pub latency_ms: f64,
    /// Unix milliseconds.
    pub at_ms: i64,
}

pub struct Served<'a> {
    pub result_set: &'a str,
    pub source: &'static str,
    pub version_age_seconds: u64,
}

/// The answer's EMF document, one line.
pub fn emf_line(answer: &AnswerMetrics<'_>) -> String {
    let counted = json!([{"Name": ANSWERS, "Unit": "Count"}, {"Name": LATENCY, "Unit": "Milliseconds"}]);
    let mut document = json!({
        "Status": answer.status.to_string(),
        ANSWERS: 1,
        LATENCY: answer.latency_ms,
    });
    let directives = match &answer.served {
        Some(served) => {
            document["ResultSet"] = json!(served.result_set);
            document["Source"] = json!(served.source);
            document[VERSION_AGE] = json!(served.version_age_seconds);
            json!([
                {"Namespace": NAMESPACE, "Dimensions": [["ResultSet", "Source"], ["Status"]], "Metrics": counted},
                {"Namespace": NAMESPACE, "Dimensions": [["ResultSet"]],
                 "Metrics": [{"Name": VERSION_AGE, "Unit": "Seconds"}]},
            ])
        }
        None => json!([{"Namespace": NAMESPACE, "Dimensions": [["Status"]], "Metrics": counted}]),
    };
    document["_aws"] = json!({"Timestamp": answer.at_ms, "CloudWatchMetrics": directives});
    document.to_string()
}

/// A result set's answers by source over the last hour, as `GET /result-sets/{rs}` shows them.
#[derive(Debug, Serialize, PartialEq)]
pub struct AnswersBySource {
    pub window_seconds: i64,
    pub total: f64,
    /// By source: answers and their share of the total.
    pub sources: BTreeMap<&'static str, Value>,
}

/// The last hour's answers of `result_set` by source; `None` when CloudWatch has none (it
/// cannot always be queried: the local stack makes no metrics of log lines) or cannot be
/// reached, which is logged and never fails the route.
pub async fn answers_last_hour<M: MetricSums>(
    metrics: &M,
    result_set: &str,
    now_unix: i64,
) -> Option<AnswersBySource> {
    let ids: Vec<MetricId> = SOURCES
        .iter()
        .map(|source| MetricId {
            namespace: NAMESPACE.to_owned(),
            name: ANSWERS.to_owned(),
            dimensions: vec![
                ("ResultSet".to_owned(), result_set.to_owned()),
                ("Source".to_owned(), (*source).to_owned()),
            ],
        })
        .collect();
    let sums = match metrics
        .sums(&ids, now_unix - ANSWERS_WINDOW_SECONDS, now_unix)
        .await
    {
        Ok(sums) => sums,
        Err(err) => {
            warn!(error = %err, "the answers by source could not be read from CloudWatch; not shown");
            return None;
        }
    };
    let total: f64 = sums.iter().flatten().sum();
    if total <= 0.0 {
        return None;
    }
    let sources = SOURCES
        .iter()
        .zip(&sums)
        .map(|(source, sum)| {
            let answers = sum.unwrap_or(0.0);
            (*source, json!({"answers": answers, "share": answers / total}))
        })
        .collect();
    Some(AnswersBySource {
        window_seconds: ANSWERS_WINDOW_SECONDS,
        total,
        sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeMetrics;

    #[test]
    fn an_answer_with_a_list_counts_by_result_set_and_source_and_by_status() {
        let line = emf_line(&AnswerMetrics {
            status: 200,
            served: Some(Served {
                result_set: "spring",
                source: "segment",
                version_age_seconds: 42,
            }),
            latency_ms: 3.5,
            at_ms: 1_700_000_000_000,
        });
        assert!(!line.contains('\n'), "one line");
        let document: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            document,
            json!({
                "_aws": {"Timestamp": 1_700_000_000_000_i64, "CloudWatchMetrics": [
                    {"Namespace": "recoflow", "Dimensions": [["ResultSet", "Source"], ["Status"]],
                     "Metrics": [{"Name": "Answers", "Unit": "Count"}, {"Name": "LatencyMs", "Unit": "Milliseconds"}]},
                    {"Namespace": "recoflow", "Dimensions": [["ResultSet"]],
                     "Metrics": [{"Name": "VersionAgeSeconds", "Unit": "Seconds"}]},
                ]},
                "ResultSet": "spring", "Source": "segment", "Status": "200",
                "Answers": 1, "LatencyMs": 3.5, "VersionAgeSeconds": 42,
            })
        );
    }

    #[test]
    fn an_error_counts_by_status_alone() {
        let document: Value = serde_json::from_str(&emf_line(&AnswerMetrics {
            status: 404,
            served: None,
            latency_ms: 1.0,
            at_ms: 0,
        }))
        .unwrap();
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"],
            json!([{"Namespace": "recoflow", "Dimensions": [["Status"]],
                    "Metrics": [{"Name": "Answers", "Unit": "Count"}, {"Name": "LatencyMs", "Unit": "Milliseconds"}]}])
        );
        assert!(document.get("ResultSet").is_none() && document.get("Source").is_none());
        assert_eq!(document["Status"], "404");
    }

    fn answers(source: &str) -> MetricId {
        MetricId {
            namespace: NAMESPACE.into(),
            name: ANSWERS.into(),
            dimensions: vec![
                ("ResultSet".into(), "spring".into()),
                ("Source".into(), source.into()),
            ],
        }
    }

    #[tokio::test]
    async fn the_last_hour_s_shares_by_source_are_shown_only_when_there_are_answers() {
        let metrics = FakeMetrics::default();
        assert_eq!(
            answers_last_hour(&metrics, "spring", 10_000).await,
            None,
            "no data"
        );
        assert_eq!(*metrics.windows.lock().unwrap(), [(6_400, 10_000)]);
        metrics
            .sums
            .lock()
            .unwrap()
            .extend([(answers("personalized"), 30.0), (answers("global"), 10.0)]);
        let shown = answers_last_hour(&metrics, "spring", 10_000).await.unwrap();
        assert_eq!(shown.total, 40.0);
        assert_eq!(
            shown.sources["personalized"],
            json!({"answers": 30.0, "share": 0.75})
        );
        assert_eq!(shown.sources["segment"], json!({"answers": 0.0, "share": 0.0}));
        assert_eq!(shown.sources["global"], json!({"answers": 10.0, "share": 0.25}));
        *metrics.unavailable.lock().unwrap() = true;
        assert_eq!(
            answers_last_hour(&metrics, "spring", 10_000).await,
            None,
            "unreachable"
        );
    }
}
