//! A job's execution must fit in one Step Functions standard execution, which ends at 25,000
//! history events, however long the form and the deployment let it run. The phase loop looks
//! at a running phase less often as it ages ([`poll_wait`]: a tenth of its age, between the poll
//! interval and a cap), and [`worst_case_events`] counts the events of the longest job the
//! schema and the template's parameters allow, so a test and the deploy scripts (bin
//! `history-budget`) refuse settings that could break it.

use crate::form::Backend;
use crate::phase::Phase;

/// Where Step Functions ends a standard execution.
pub const HISTORY_LIMIT: u64 = 25_000;
/// What a job may use at most: the rest is margin for what the count leaves out.
pub const HISTORY_BUDGET: u64 = 20_000;

/// The longest a container phase may run (the schema's `max_runtime_seconds` maximum).
pub const MAX_CONTAINER_RUNTIME_SECONDS: u64 = 432_000;
/// A container phase may run its form's `max_runtime_seconds` plus this before recoflow stops
/// it (SageMaker stops it at its runtime; the margin covers starting and uploading).
pub const CONTAINER_PHASE_MARGIN_SECONDS: u64 = 3_600;

/// Events of one Lambda task that succeeds (entered, scheduled, started, succeeded, exited).
const TASK: u64 = 5;
/// Events of one failed attempt that is retried (scheduled, started, failed).
const RETRY: u64 = 3;
/// Events of a Choice or a Wait state (entered, exited).
const PASS: u64 = 2;
/// One look at a running phase: Advance, PhaseDone (Choice), WaitForPhase (Wait).
const POLL: u64 = TASK + 2 * PASS;
/// Events of a callback task (`WaitForQuota`): entered, scheduled, started, submitted, then
/// succeeded or timed out, exited.
const CALLBACK_TASK: u64 = 6;
/// One round of waiting for quota: WaitForQuota, then AcquireQuota and SlotTaken (Choice).
const QUOTA_ROUND: u64 = CALLBACK_TASK + TASK + PASS;
/// Wake-ups a phase gets on top of its timed retries: each means a slot was taken for it, and
/// a Personalize import waits in two queues at most (its datasets, then its pool).
const WAKE_UPS: u64 = 2;
/// Transient-error retries per task (the Retry of ServiceThrottled and the like).
const TRANSIENT_RETRIES: u64 = 6;
/// A Distributed Map in its parent's history (entered, started, its map run started and
/// ended, succeeded, exited): its workers are child executions with histories of their own,
/// however many parts and invocations a delivery takes.
const DISTRIBUTED_MAP: u64 = 6;
/// Resources a phase creates at most, each of which the service may refuse for a while.
fn creations(backend: Backend, phase: Phase, max_launch_attempts: u32) -> u64 {
    match (backend, phase) {
        // One SageMaker job, relaunched after platform failures.
        (Backend::Container, _) => u64::from(max_launch_attempts.max(1)),
        // The dataset group, three schemas, three datasets, three imports.
        (Backend::Personalize, Phase::Import) => 10,
        // The solution and its version.
        (Backend::Personalize, Phase::Train) => 2,
        // A batch inference job per group of parts (`core::scoring_parts`): one for the
        // largest job, of 50 million users.
        (Backend::Personalize, Phase::Score) => 1,
    }
}

/// The deployment's parameters that decide how long a job can run and how often it is looked at.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    pub poll_seconds: u32,
    pub max_poll_seconds: u32,
    pub phase_timeout_seconds: u32,
    pub quota_wait_attempts: u32,
    pub launch_retry_attempts: u32,
    pub max_launch_attempts: u32,
}

/// Seconds to wait before the next look at a phase that has run `age_seconds`.
pub fn poll_wait(age_seconds: u64, poll_seconds: u32, max_poll_seconds: u32) -> u32 {
    let floor = u64::from(poll_seconds.max(1));
    let cap = u64::from(max_poll_seconds).max(floor);
    (age_seconds / 10).clamp(floor, cap) as u32
}

/// How long recoflow lets a phase run before it stops it: the deployment's phase timeout, or
/// for a container phase its form's runtime plus a margin when that is longer.
pub fn phase_deadline_seconds(phase_timeout_seconds: u32, container_runtime_seconds: Option<u32>) -> u64 {
    let runtime = container_runtime_seconds.map_or(0, |r| u64::from(r) + CONTAINER_PHASE_MARGIN_SECONDS);
    u64::from(phase_timeout_seconds).max(runtime)
}

/// Looks at a phase that runs `duration_seconds` before it ends or is stopped.
pub fn polls_within(duration_seconds: u64, poll_seconds: u32, max_poll_seconds: u32) -> u64 {
    let (mut age, mut polls) = (0u64, 1u64);
    while age < duration_seconds {
        age += u64::from(poll_wait(age, poll_seconds, max_poll_seconds));
        polls += 1;
    }
    polls
}

/// History events of the longest job of `backend` these timings allow, failure path included.
pub fn worst_case_events(timings: &Timings, backend: Backend) -> u64 {
    let runtime = (backend == Backend::Container).then_some(MAX_CONTAINER_RUNTIME_SECONDS as u32);
    let deadline = phase_deadline_seconds(timings.phase_timeout_seconds, runtime);
    let plan = Phase::plan(backend);
    let phases = plan.len() as u64;
    let start_and_prepare = 2 + TASK + TRANSIENT_RETRIES * RETRY;
    // Map: entered, started, succeeded, exited, and each iteration's start and end.
    let map = 4 + 2 * phases;
    // AcquireQuota and SlotTaken, then a round per timed retry and per wake-up.
    let acquire = TASK
        + PASS
        + (u64::from(timings.quota_wait_attempts) + WAKE_UPS) * QUOTA_ROUND
        + TRANSIENT_RETRIES * RETRY;
    let looks = polls_within(deadline, timings.poll_seconds, timings.max_poll_seconds) * POLL;
    // Each creation may be refused (LaunchRefused) up to the retry limit, then needs a look.
    let refusals = u64::from(timings.launch_retry_attempts) * RETRY + POLL;
    let phase_events: u64 = plan
        .iter()
        .map(|&phase| {
            acquire + looks + creations(backend, phase, timings.max_launch_attempts) * refusals + TASK
        })
        .sum();
    // Deliver, the fallback shares' map, the choice, the score files' map, Publish.
    let deliver = 2 * (TASK + TRANSIENT_RETRIES * RETRY) + 2 * DISTRIBUTED_MAP + PASS;
    // Cleanup, RecordFailure, NotifyFailure, the fold wait and summary, the end.
    let failure_path = 4 * TASK + 2 * PASS + 1;
    start_and_prepare + map + phase_events + deliver + failure_path
}

/// The timings a deployment of `template` (infra/template.yaml's text) gets: each parameter's
/// default, unless `overrides` (`Name=Value`, as `--parameter-overrides` takes them) sets it.
pub fn timings_from(template: &str, overrides: &[String]) -> Result<Timings, String> {
    let value = |name: &str| -> Result<u32, String> {
        let given = overrides
            .iter()
            .find_map(|o| o.strip_prefix(name)?.strip_prefix('='));
        let text = match given {
            Some(text) => text.to_owned(),
            None => template_default(template, name)
                .ok_or_else(|| format!("the template has no numeric default for {name}"))?,
        };
        text.trim()
            .parse()
            .map_err(|_| format!("{name}={text} is not a whole number"))
    };
    Ok(Timings {
        poll_seconds: value("PollIntervalSeconds")?,
        max_poll_seconds: value("MaxPollIntervalSeconds")?,
        phase_timeout_seconds: value("PhaseTimeoutSeconds")?,
        quota_wait_attempts: value("QuotaWaitAttempts")?,
        launch_retry_attempts: value("LaunchRetryAttempts")?,
        max_launch_attempts: value("MaxLaunchAttempts")?,
    })
}

/// A parameter's `Default:` in the template's `Parameters` (read as lines: the template uses
/// CloudFormation tags a YAML reader would need to know).
fn template_default(template: &str, name: &str) -> Option<String> {
    let start = template.find(&format!("\n  {name}:\n"))?;
    template[start + 1..]
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with("    "))
        .find_map(|line| line.trim().strip_prefix("Default: "))
        .map(|v| v.trim_matches('"').to_owned())
}

/// The timings' worst job per backend, or what is wrong with them.
pub fn check(timings: &Timings) -> Result<Vec<(Backend, u64)>, String> {
    let counts: Vec<(Backend, u64)> = [Backend::Container, Backend::Personalize]
        .into_iter()
        .map(|backend| (backend, worst_case_events(timings, backend)))
        .collect();
    match counts.iter().find(|(_, events)| *events > HISTORY_BUDGET) {
        Some((backend, events)) => Err(format!(
            "with these parameters the longest {backend:?} job could log {events} history events, over the {HISTORY_BUDGET} a job may use (Step Functions stops an execution at {HISTORY_LIMIT}): raise PollIntervalSeconds or MaxPollIntervalSeconds, or lower PhaseTimeoutSeconds, QuotaWaitAttempts or LaunchRetryAttempts"
        )),
        None => Ok(counts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template_timings() -> Timings {
        timings_from(include_str!("../../../infra/template.yaml"), &[]).unwrap()
    }

    #[test]
    fn overrides_win_over_the_template_defaults() {
        let template = include_str!("../../../infra/template.yaml");
        let local = timings_from(
            template,
            &["PollIntervalSeconds=1".into(), "PhaseTimeoutSeconds=600".into()],
        )
        .unwrap();
        assert_eq!((local.poll_seconds, local.phase_timeout_seconds), (1, 600));
        assert_eq!(local.max_poll_seconds, template_timings().max_poll_seconds);
        assert!(timings_from(template, &["PollIntervalSeconds=soon".into()])
            .unwrap_err()
            .contains("PollIntervalSeconds"));
    }

    #[test]
    fn looks_grow_with_the_phase_age_within_their_bounds() {
        assert_eq!(poll_wait(0, 60, 900), 60);
        assert_eq!(poll_wait(3_000, 60, 900), 300);
        assert_eq!(poll_wait(100_000, 60, 900), 900);
        assert_eq!(poll_wait(5, 1, 0), 1, "a cap below the floor is the floor");
        // A 120 h phase at a 60 s poll: about 570 looks, not 7,200.
        let polls = polls_within(432_000, 60, 900);
        assert!((500..700).contains(&polls), "{polls}");
    }

    #[test]
    fn the_longest_job_the_defaults_allow_fits_in_one_execution() {
        let timings = template_timings();
        let counts = check(&timings).unwrap_or_else(|e| panic!("{e}"));
        for (backend, events) in counts {
            assert!(events <= HISTORY_BUDGET, "{backend:?}: {events}");
        }
    }

    #[test]
    fn settings_that_could_break_the_limit_are_refused() {
        let mut timings = template_timings();
        // Looking every minute whatever the age, as before: a 120 h container phase alone is
        // 7,200 looks, 65,000 events.
        timings.max_poll_seconds = timings.poll_seconds;
        let err = check(&timings).unwrap_err();
        assert!(err.contains("history events"), "{err}");
    }

    #[test]
    fn each_timed_retry_of_a_quota_wait_costs_a_round_per_phase() {
        let timings = template_timings();
        let mut longer = timings.clone();
        longer.quota_wait_attempts += 1;
        for backend in [Backend::Container, Backend::Personalize] {
            let phases = Phase::plan(backend).len() as u64;
            assert_eq!(
                worst_case_events(&longer, backend) - worst_case_events(&timings, backend),
                phases * QUOTA_ROUND,
                "{backend:?}: WaitForQuota, AcquireQuota and SlotTaken"
            );
        }
        assert_eq!(QUOTA_ROUND, 13);
    }

    #[test]
    fn a_container_phase_may_run_its_form_runtime() {
        assert_eq!(phase_deadline_seconds(172_800, Some(432_000)), 435_600);
        assert_eq!(phase_deadline_seconds(172_800, Some(600)), 172_800);
        assert_eq!(phase_deadline_seconds(600, None), 600);
    }
}
