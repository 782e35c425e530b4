//! Submitting a recurring form: its record in the schedules table (conditional: a repeated
//! submission changes nothing), then its EventBridge Scheduler schedule (named by the schedule
//! id: a repeat creates nothing). Both steps are idempotent, so a retry finishes what a failed
//! attempt began.

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tracing::info;

use super::ports::{ScheduleCreated, ScheduleStore, Scheduler, SchedulerSchedule, SchedulerWrite};
use super::record::{NextRun, ScheduleId, ScheduleRecord, ScheduleState};
use crate::errors::ServiceError;
use crate::validation::FormProblem;

/// How far in the past a start may be: the service refuses a StartDate over 5 minutes ago.
const START_GRACE: SignedDuration = SignedDuration::from_secs(5 * 60);

#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleSubmitted {
    /// A new schedule, enabled.
    Created { next_runs: Vec<NextRun> },
    /// The same submission made this schedule before; it is as it was.
    Duplicate { next_runs: Vec<NextRun> },
    /// The id belongs to a schedule of another form (an idempotency key reused).
    Conflict,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// What only the moment of submission can tell (a start long past, nothing left to fire).
    #[error("the schedule block has {} problem(s)", .0.len())]
    Invalid(Vec<FormProblem>),
    /// The record could not be written: nothing exists, the caller may retry.
    #[error(transparent)]
    Record(ServiceError),
    /// The record exists but its Scheduler schedule could not be made; a retry makes it.
    #[error(transparent)]
    Scheduler(ServiceError),
}

/// Problems of a valid schedule block that depend on when it is submitted.
pub fn timely_problems(record: &ScheduleRecord, now: Timestamp) -> Vec<FormProblem> {
    let settings = record.settings();
    let Some(timing) = record.timing() else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if let Some(start) = timing.start.filter(|_| !timing.expression.is_one_time()) {
        if start < now - START_GRACE {
            problems.push(FormProblem {
                path: "$.schedule.start".into(),
                code: "in_the_past".into(),
                message: format!(
                    "schedule.start ({}) is more than 5 minutes ago; leave it out to start now",
                    settings.start.as_deref().unwrap_or_default()
                ),
            });
        }
    }
    if problems.is_empty() && timing.first(now).is_none() {
        problems.push(FormProblem {
            path: "$.schedule".into(),
            code: "never_fires".into(),
            message: format!(
                "schedule \"{}\" in {} has no firing left (before schedule.end, in the years it names); nothing would run",
                settings.expression,
                timing.zone.name()
            ),
        });
    }
    problems
}

/// The Scheduler schedule of a record, in the state the record says.
pub fn scheduler_schedule(record: &ScheduleRecord) -> SchedulerSchedule {
    let settings = record.settings();
    let timing = record.timing();
    let recurring = timing.as_ref().is_some_and(|t| !t.expression.is_one_time());
    let bound = |instant: Option<Timestamp>| instant.filter(|_| recurring).map(|i| i.as_second());
    let form = &record.form;
    SchedulerSchedule {
        name: record.schedule_id.to_string(),
        expression: settings.expression.clone(),
        timezone: settings.timezone.clone(),
        start: bound(timing.as_ref().and_then(|t| t.start)),
        end: bound(timing.as_ref().and_then(|t| t.end)),
        enabled: record.state == ScheduleState::Enabled,
        input: firing_input(&record.schedule_id),
        description: format!(
            "recoflow {}: recoflow:result-set={} recoflow:submitted-by={}",
            form.job_name, form.result_set, form.submitted_by
        ),
    }
}

/// What each firing sends the target: the schedule and the firing's scheduled time, which
/// the Scheduler fills in (`functions/schedules` reads it as a `Firing`).
pub fn firing_input(schedule_id: &ScheduleId) -> String {
    json!({
        "kind": "firing",
        "schedule_id": schedule_id,
        "scheduled_time": "<aws.scheduler.scheduled-time>",
        "execution_id": "<aws.scheduler.execution-id>",
    })
    .to_string()
}

/// Writes the schedule's record (if new) and makes its Scheduler schedule.
pub async fn create_schedule<S: ScheduleStore, C: Scheduler>(
    schedules: &S,
    scheduler: &C,
    record: &ScheduleRecord,
    now: Timestamp,
) -> Result<ScheduleSubmitted, ScheduleError> {
    let stored = match schedules.create(record).await.map_err(ScheduleError::Record)? {
        ScheduleCreated::New => None,
        ScheduleCreated::AlreadyExists(existing) if existing.form_digest != record.form_digest => {
            return Ok(ScheduleSubmitted::Conflict)
        }
        ScheduleCreated::AlreadyExists(existing) => Some(existing),
    };
    // A repeat of a schedule since deleted or paused changes nothing; an earlier attempt may
    // have stopped before making an enabled one's Scheduler schedule.
    let current = stored.as_deref().unwrap_or(record);
    if current.state == ScheduleState::Enabled {
        match scheduler
            .create(&scheduler_schedule(current))
            .await
            .map_err(ScheduleError::Scheduler)?
        {
            SchedulerWrite::AlreadyExists => info!("Scheduler schedule exists already"),
            SchedulerWrite::Done | SchedulerWrite::NotFound => info!("Scheduler schedule created"),
        }
    }
    let next_runs = current.next_runs(now);
    Ok(match stored {
        None => ScheduleSubmitted::Created { next_runs },
        Some(_) => ScheduleSubmitted::Duplicate { next_runs },
    })
}

/// `utc` of each run, for logs and tests.
pub fn run_times(runs: &[NextRun]) -> Vec<&str> {
    runs.iter().map(|r| r.utc.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{test_form, FakeScheduleStore, FakeScheduler};
    use crate::job::JobSource;
    use crate::schedule::{utc_text, Overlap, ScheduleSettings};

    fn record(expression: &str, start: Option<&str>, digest: &str) -> ScheduleRecord {
        let mut form = test_form("personalize");
        form.schedule = Some(ScheduleSettings {
            expression: expression.into(),
            timezone: "Asia/Tokyo".into(),
            start: start.map(Into::into),
            end: None,
            overlap: Overlap::Skip,
        });
        ScheduleRecord::new(
            ScheduleId::parse("spring-1").unwrap(),
            form,
            digest.into(),
            JobSource::Api {
                idempotency_key: None,
            },
            "2026-12-01T00:00:00Z",
        )
    }

    fn now() -> Timestamp {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }

    #[tokio::test]
    async fn a_schedule_is_created_once_with_its_next_five_runs() {
        let (store, scheduler) = (FakeScheduleStore::default(), FakeScheduler::default());
        let weekly = record("cron(0 3 ? * MON *)", None, "d1");
        let created = create_schedule(&store, &scheduler, &weekly, now()).await.unwrap();
        let ScheduleSubmitted::Created { next_runs } = created else {
            panic!("{created:?}")
        };
        assert_eq!(
            run_times(&next_runs),
            [
                "2026-12-06T18:00:00Z",
                "2026-12-13T18:00:00Z",
                "2026-12-20T18:00:00Z",
                "2026-12-27T18:00:00Z",
                "2027-01-03T18:00:00Z"
            ]
        );
        assert_eq!(next_runs[0].local, "2026-12-07T03:00:00+09:00");
        let made = scheduler.schedule("spring-1").unwrap();
        assert!(made.enabled);
        assert_eq!(made.timezone, "Asia/Tokyo");
        assert!(made.input.contains("<aws.scheduler.scheduled-time>"));
        assert!(made.description.contains("recoflow:result-set=spring"));

        let again = create_schedule(&store, &scheduler, &weekly, now()).await.unwrap();
        assert!(matches!(again, ScheduleSubmitted::Duplicate { .. }));
        let other = create_schedule(&store, &scheduler, &record("rate(1 day)", None, "d2"), now())
            .await
            .unwrap();
        assert_eq!(other, ScheduleSubmitted::Conflict);
        assert_eq!(scheduler.creates(), 2);
    }

    #[tokio::test]
    async fn a_failed_scheduler_call_is_finished_by_the_retry() {
        let (store, scheduler) = (FakeScheduleStore::default(), FakeScheduler::default());
        *scheduler.failing.lock().unwrap() = 1;
        let daily = record("rate(1 day)", None, "d1");
        let failed = create_schedule(&store, &scheduler, &daily, now())
            .await
            .unwrap_err();
        assert!(matches!(failed, ScheduleError::Scheduler(_)));
        assert!(scheduler.schedule("spring-1").is_none());
        let retried = create_schedule(&store, &scheduler, &daily, now()).await.unwrap();
        assert!(matches!(retried, ScheduleSubmitted::Duplicate { .. }));
        assert!(scheduler.schedule("spring-1").is_some());
    }

    #[test]
    fn a_start_long_past_or_nothing_left_to_fire_is_a_problem() {
        let past = record("rate(1 day)", Some("2026-11-30T00:00:00Z"), "d");
        let problems = timely_problems(&past, now());
        assert_eq!(
            (problems[0].path.as_str(), problems[0].code.as_str()),
            ("$.schedule.start", "in_the_past")
        );
        let recent = record("rate(1 day)", Some("2026-11-30T23:57:00Z"), "d");
        assert!(timely_problems(&recent, now()).is_empty());
        let over = record("cron(0 3 1 1 ? 2025)", None, "d");
        assert_eq!(timely_problems(&over, now())[0].code, "never_fires");
        // A one-time schedule has a firing whenever it is (the service fires a past one at once).
        assert!(timely_problems(&record("at(2026-01-01T00:00:00)", None, "d"), now()).is_empty());
    }

    #[test]
    fn one_time_schedules_carry_no_start_or_end() {
        let once = record("at(2026-12-24T09:00:00)", Some("2026-12-01T00:00:00Z"), "d");
        let schedule = scheduler_schedule(&once);
        assert_eq!((schedule.start, schedule.end), (None, None));
        let daily = record("rate(1 day)", Some("2026-12-02T00:00:00Z"), "d");
        assert_eq!(
            scheduler_schedule(&daily).start,
            Some(utc_seconds("2026-12-02T00:00:00Z"))
        );
    }

    fn utc_seconds(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_second()
    }

    #[test]
    fn the_utc_text_is_to_the_second() {
        assert_eq!(
            utc_text("2026-12-01T03:00:00.25Z".parse().unwrap()),
            "2026-12-01T03:00:00Z"
        );
    }
}
