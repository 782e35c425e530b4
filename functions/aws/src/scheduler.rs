//! EventBridge Scheduler: the schedules of recurring forms, in the stack's schedule group, each
//! firing invoking the stack's schedules function through the stack's role.

use async_trait::async_trait;
use aws_sdk_scheduler::primitives::DateTime;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy,
    ScheduleState, Target,
};
use aws_sdk_scheduler::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::ports::{Scheduler, SchedulerSchedule, SchedulerWrite};

use crate::{error_code, service_error};

/// Where the stack's schedules live and what they call.
#[derive(Debug, Clone)]
pub struct SchedulerTarget {
    pub group: String,
    /// The schedules function.
    pub function_arn: String,
    /// The role the Scheduler invokes it with (it may invoke nothing else).
    pub role_arn: String,
    /// Firings that failed every retry go here.
    pub dead_letter_arn: String,
}

/// The fields CreateSchedule and UpdateSchedule both take (the service replaces the whole
/// schedule on update), set on either request builder.
macro_rules! schedule_fields {
    ($request:expr, $target:expr, $schedule:expr) => {
        $request
            .name(&$schedule.name)
            .group_name(&$target.target.group)
            .schedule_expression(&$schedule.expression)
            .schedule_expression_timezone(&$schedule.timezone)
            .set_start_date(time($schedule.start))
            .set_end_date(time($schedule.end))
            .state(state($schedule))
            .description(&$schedule.description)
            .flexible_time_window(exact_window()?)
            .action_after_completion(ActionAfterCompletion::None)
            .target($target.target(&$schedule.input)?)
    };
}

pub struct EventBridgeScheduler {
    client: Client,
    target: SchedulerTarget,
}

impl EventBridgeScheduler {
    pub fn new(client: Client, target: SchedulerTarget) -> Self {
        Self { client, target }
    }

    fn target(&self, input: &str) -> Result<Target, ServiceError> {
        Target::builder()
            .arn(&self.target.function_arn)
            .role_arn(&self.target.role_arn)
            .input(input)
            // A firing the function fails is retried for an hour, then kept in the queue.
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(10)
                    .maximum_event_age_in_seconds(3600)
                    .build(),
            )
            .dead_letter_config(
                DeadLetterConfig::builder()
                    .arn(&self.target.dead_letter_arn)
                    .build(),
            )
            .build()
            .map_err(|err| invalid("Target", err))
    }
}

fn invalid(what: &'static str, err: impl ToString) -> ServiceError {
    ServiceError::Failed {
        service: "EventBridge Scheduler",
        operation: what,
        message: err.to_string(),
    }
}

fn time(seconds: Option<i64>) -> Option<DateTime> {
    seconds.map(DateTime::from_secs)
}

fn state(schedule: &SchedulerSchedule) -> ScheduleState {
    if schedule.enabled {
        ScheduleState::Enabled
    } else {
        ScheduleState::Disabled
    }
}

/// Fires on time (the service's default window is a parameter it requires).
fn exact_window() -> Result<FlexibleTimeWindow, ServiceError> {
    FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|err| invalid("FlexibleTimeWindow", err))
}

#[async_trait]
impl Scheduler for EventBridgeScheduler {
    async fn create(&self, schedule: &SchedulerSchedule) -> Result<SchedulerWrite, ServiceError> {
        let result = schedule_fields!(self.client.create_schedule(), self, schedule)
            .client_token(&schedule.name)
            .send()
            .await;
        match result {
            Ok(_) => Ok(SchedulerWrite::Done),
            Err(err) if error_code(&err) == Some("ConflictException") => Ok(SchedulerWrite::AlreadyExists),
            Err(err) => Err(service_error("EventBridge Scheduler", "CreateSchedule", &err)),
        }
    }

    async fn update(&self, schedule: &SchedulerSchedule) -> Result<SchedulerWrite, ServiceError> {
        let result = schedule_fields!(self.client.update_schedule(), self, schedule)
            .send()
            .await;
        match result {
            Ok(_) => Ok(SchedulerWrite::Done),
            Err(err) if error_code(&err) == Some("ResourceNotFoundException") => Ok(SchedulerWrite::NotFound),
            Err(err) => Err(service_error("EventBridge Scheduler", "UpdateSchedule", &err)),
        }
    }

    async fn delete(&self, name: &str) -> Result<SchedulerWrite, ServiceError> {
        let result = self
            .client
            .delete_schedule()
            .name(name)
            .group_name(&self.target.group)
            .send()
            .await;
        match result {
            Ok(_) => Ok(SchedulerWrite::Done),
            Err(err) if error_code(&err) == Some("ResourceNotFoundException") => Ok(SchedulerWrite::NotFound),
            Err(err) => Err(service_error("EventBridge Scheduler", "DeleteSchedule", &err)),
        }
    }
}
