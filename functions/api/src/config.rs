//! The API's configuration: its environment, read once at init (a missing or malformed
//! variable fails the init with its name), and the settings the routes read from it.

use serde::Deserialize;

use recoflow_core::validation::ValidationRules;

/// The API's environment variables, by their names in lower case.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiConfig {
    pub jobs_table: String,
    pub quota_table: String,
    pub recommendations_table: String,
    /// The bucket whose data files the web page offers.
    pub data_bucket: String,
    /// Job outputs: audiences' manifests and CSVs.
    pub results_bucket: String,
    /// The SSM SecureString holding the web page's access token.
    pub ui_token_parameter: String,
    pub state_machine_arn: String,
    /// Comma-separated buckets a form's data files may be in.
    pub allowed_data_buckets: String,
    /// Comma-separated ECR repositories a container job's images may come from.
    pub allowed_image_repositories: String,
    /// Set by Lambda itself; the console links of `GET /jobs/{id}` point into this region.
    pub aws_region: String,
    /// Recurring forms: their records, and where their Scheduler schedules go and call.
    pub schedules_table: String,
    pub schedule_group: String,
    pub schedules_function_arn: String,
    pub scheduler_role_arn: String,
    pub schedule_dead_letter_arn: String,
    /// Data-driven forms: their records and the files they watch.
    pub triggers_table: String,
    /// Placements (latest revision and history).
    pub placements_table: String,
    /// Event-id claims, interleaved credits and the aggregates of placements' events.
    pub events_table: String,
    /// The Firehose delivery stream raw events go to S3 by.
    pub events_stream: String,
    /// The Secrets Manager secret recommendation_ids are signed with.
    pub signing_key_secret: String,
}

impl ApiConfig {
    pub fn experiment_resources(&self) -> crate::experiment_ports::live::ExperimentResources<'_> {
        crate::experiment_ports::live::ExperimentResources {
            placements_table: &self.placements_table,
            events_table: &self.events_table,
            events_stream: &self.events_stream,
            signing_key_secret: &self.signing_key_secret,
        }
    }

    pub fn scheduler_target(&self) -> recoflow_aws::SchedulerTarget {
        recoflow_aws::SchedulerTarget {
            group: self.schedule_group.clone(),
            function_arn: self.schedules_function_arn.clone(),
            role_arn: self.scheduler_role_arn.clone(),
            dead_letter_arn: self.schedule_dead_letter_arn.clone(),
        }
    }

    pub fn settings(&self) -> ApiSettings {
        ApiSettings {
            rules: ValidationRules::from_allow_list(&self.allowed_data_buckets)
                .with_image_repositories(&self.allowed_image_repositories),
            data_bucket: self.data_bucket.clone(),
            results_bucket: self.results_bucket.clone(),
            region: self.aws_region.clone(),
        }
    }
}

/// What the routes need to know besides their ports.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// What a submitted form is checked against (the buckets its data may be in).
    pub rules: ValidationRules,
    /// The bucket `GET /ui/api/data-files` lists.
    pub data_bucket: String,
    /// Where audiences are (`GET /audiences/...`).
    pub results_bucket: String,
    /// The AWS region of the console links.
    pub region: String,
}

#[cfg(test)]
mod tests {
    use recoflow_core::config::{from_iter, ConfigError};

    use super::*;

    /// The API's variables as the template and Lambda set them.
    fn deployed_vars() -> Vec<(String, String)> {
        [
            ("JOBS_TABLE", "jobs"),
            ("QUOTA_TABLE", "quota"),
            ("RECOMMENDATIONS_TABLE", "recommendations"),
            ("DATA_BUCKET", "data"),
            ("UI_TOKEN_PARAMETER", "/recoflow/ui-token"),
            (
                "STATE_MACHINE_ARN",
                "arn:aws:states:eu-west-1:000000000000:stateMachine:jobs",
            ),
            ("ALLOWED_DATA_BUCKETS", "data,shared"),
            (
                "ALLOWED_IMAGE_REPOSITORIES",
                "0.dkr.ecr.eu-west-1.amazonaws.com/recsys",
            ),
            ("AWS_REGION", "eu-west-1"),
            ("RESULTS_BUCKET", "results"),
            ("SCHEDULES_TABLE", "schedules"),
            ("TRIGGERS_TABLE", "triggers"),
            ("SCHEDULE_GROUP", "recoflow"),
            (
                "SCHEDULES_FUNCTION_ARN",
                "arn:aws:lambda:eu-west-1:000000000000:function:schedules",
            ),
            ("SCHEDULER_ROLE_ARN", "arn:aws:iam::000000000000:role/scheduler"),
            ("PLACEMENTS_TABLE", "placements"),
            ("EVENTS_TABLE", "events"),
            ("EVENTS_STREAM", "recoflow-events"),
            (
                "SIGNING_KEY_SECRET",
                "arn:aws:secretsmanager:eu-west-1:000000000000:secret:signing",
            ),
            (
                "SCHEDULE_DEAD_LETTER_ARN",
                "arn:aws:sqs:eu-west-1:000000000000:schedule-dlq",
            ),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    #[test]
    fn the_deployed_environment_gives_the_settings() {
        let config: ApiConfig = from_iter(deployed_vars()).unwrap();
        let settings = config.settings();
        assert_eq!(settings.data_bucket, "data");
        assert_eq!(settings.results_bucket, "results");
        assert_eq!(settings.region, "eu-west-1");
        assert_eq!(settings.rules.allowed_data_buckets, ["data", "shared"]);
        assert_eq!(
            settings.rules.allowed_image_repositories,
            Some(vec!["0.dkr.ecr.eu-west-1.amazonaws.com/recsys".to_owned()])
        );
    }

    #[test]
    fn each_missing_variable_fails_the_init_by_name() {
        for (missing, _) in deployed_vars() {
            let vars = deployed_vars().into_iter().filter(|(name, _)| *name != missing);
            match from_iter::<ApiConfig>(vars) {
                Err(ConfigError::Missing(name)) => assert_eq!(name, missing),
                other => panic!("without {missing}: {other:?}"),
            }
        }
    }
}
