//! CloudWatch metrics, read with GetMetricData: sums over a window (the recommendations
//! route's answers, which CloudWatch makes out of its embedded-metric-format log lines).

use async_trait::async_trait;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_sdk_cloudwatch::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::ports::{MetricId, MetricSums};

use crate::service_error;

/// GetMetricData's most queries per call.
const MAX_QUERIES: usize = 500;
/// Pages of one call's answer read at most (each names every query once it is whole).
const MAX_PAGES: usize = 10;

pub struct CloudWatchMetrics {
    client: Client,
}

impl CloudWatchMetrics {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// One data point for the whole window: CloudWatch wants a period of whole minutes.
fn window_period(from_unix: i64, to_unix: i64) -> i32 {
    let seconds = (to_unix - from_unix).max(60);
    let minutes = (seconds + 59) / 60;
    (minutes * 60).min(i64::from(i32::MAX)) as i32
}

fn query(id: usize, metric: &MetricId, period: i32) -> MetricDataQuery {
    let dimensions = metric
        .dimensions
        .iter()
        .map(|(name, value)| Dimension::builder().name(name).value(value).build());
    let metric = Metric::builder()
        .namespace(&metric.namespace)
        .metric_name(&metric.name)
        .set_dimensions(Some(dimensions.collect()))
        .build();
    let stat = MetricStat::builder()
        .metric(metric)
        .period(period)
        .stat("Sum")
        .build();
    MetricDataQuery::builder()
        .id(format!("m{id}"))
        .metric_stat(stat)
        .return_data(true)
        .build()
}

#[async_trait]
impl MetricSums for CloudWatchMetrics {
    async fn sums(
        &self,
        metrics: &[MetricId],
        from_unix: i64,
        to_unix: i64,
    ) -> Result<Vec<Option<f64>>, ServiceError> {
        if metrics.len() > MAX_QUERIES {
            return Err(ServiceError::Failed {
                service: "CloudWatch",
                operation: "GetMetricData",
                message: format!("{} metrics asked at once; at most {MAX_QUERIES}", metrics.len()),
            });
        }
        let period = window_period(from_unix, to_unix);
        let mut sums: Vec<Option<f64>> = vec![None; metrics.len()];
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let queries = metrics.iter().enumerate().map(|(i, m)| query(i, m, period));
            let output = self
                .client
                .get_metric_data()
                .set_metric_data_queries(Some(queries.collect()))
                .start_time(DateTime::from_secs(from_unix))
                .end_time(DateTime::from_secs(to_unix))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| service_error("CloudWatch", "GetMetricData", &e))?;
            for result in output.metric_data_results() {
                let index = result
                    .id()
                    .and_then(|id| id.strip_prefix('m')?.parse::<usize>().ok());
                let Some(sum) = index.and_then(|i| sums.get_mut(i)) else {
                    continue;
                };
                if !result.values().is_empty() {
                    *sum = Some(sum.unwrap_or(0.0) + result.values().iter().sum::<f64>());
                }
            }
            token = output.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(sums)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_one_period_of_whole_minutes() {
        assert_eq!(window_period(0, 3_600), 3_600);
        assert_eq!(window_period(0, 61), 120);
        assert_eq!(window_period(10, 10), 60);
    }
}
