//! `bench-quota [seeds]`: quota slots handed over at once against today's timed retries, on a
//! simulated clock with AWS's waits. 20 container jobs, submitted one a second, each training
//! for 10 simulated minutes on a pool of 2 slots. The runner's own code decides every step
//! (`runner::handler::handle` on the fake ports, the fake clock moved from event to event):
//! AcquireQuota, WaitForQuota with its task token, ReleaseQuota and its hand-over. Only what
//! Step Functions does between the steps is simulated: a step's latency, the wake-up timeout,
//! and for the timed retries the ASL's `Retry` (QuotaWaitSeconds × 1.5ⁿ, full jitter, capped
//! at QuotaMaxWaitSeconds: 60 s and 900 s, the defaults before the queue).
//!
//! Three runs: the queue; the queue with one wake-up in ten lost (its timed retry recovers
//! it); the timed retries. Each is repeated over `seeds` random seeds (jitter, lost wake-ups).
//! Prints one JSON document; exits 1 when the queue keeps the slots busy less than 98 % of the
//! time or starts a job before one submitted earlier.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use recoflow_core::job::JobId;
use recoflow_core::phase::Phase;
use recoflow_core::task::{RunnerTask, TaskToken};
use runner::fake::{prepared_job, submitted_at, FakeRunnerPorts};
use runner::handler::handle;
use runner::step::RunnerOutput;
use serde_json::{json, Value};

const JOBS: usize = 20;
const SLOTS: u32 = 2;
/// Each job's training, in milliseconds of simulated time.
const RUN_MS: u64 = 10 * 60 * 1000;
const SUBMIT_EVERY_MS: u64 = 1000;
/// Step Functions moving to the next state and the runner answering (AWS: tens to hundreds
/// of milliseconds).
const STEP_MS: u64 = 250;
/// `QuotaWakeUpTimeoutSeconds` on AWS.
const WAKE_UP_TIMEOUT_MS: u64 = 900 * 1000;
/// Today's retry waits, before the queue: the first, its growth, the longest.
const RETRY_FIRST_S: f64 = 60.0;
const RETRY_RATE: f64 = 1.5;
const RETRY_MAX_S: f64 = 900.0;
const TARGET_UTILISATION: f64 = 0.98;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Parked on a task token, handed a slot at once; `lost` of the wake-ups never arrive.
    Queue { lost: f64 },
    /// No queue: `QuotaUnavailable` retried with growing jittered waits, as before.
    TimedRetries,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Acquire(usize),
    Park(usize),
    /// A park's timeout, by the park's number.
    TimedOut(usize, u32),
    Finish(usize),
}

#[derive(Default, Clone)]
struct Job {
    submitted_ms: u64,
    started_ms: Option<u64>,
    finished_ms: Option<u64>,
    retries: u32,
    /// The number of the job's park whose token is live (`None`: not parked).
    parked: Option<u32>,
    parks: u32,
}

struct Run {
    ports: FakeRunnerPorts,
    ids: Vec<JobId>,
    jobs: Vec<Job>,
    events: BinaryHeap<Reverse<(u64, u64, Event)>>,
    now_ms: u64,
    sequence: u64,
    mode: Mode,
    rng: fastrand::Rng,
    quota_calls: u32,
}

impl Run {
    async fn new(mode: Mode, seed: u64) -> Self {
        let mut ports = FakeRunnerPorts::new(&format!(r#"{{"sagemaker-training:*": {SLOTS}}}"#));
        // The simulation renews no lease (no Advance looks) and no job gives up waiting.
        ports.settings.lease_seconds = 24 * 3600;
        ports.settings.quota_wait_attempts = 10_000;
        ports.settings.quota_wake_up_timeout_seconds = (WAKE_UP_TIMEOUT_MS / 1000) as u32;
        let mut ids = Vec::new();
        for n in 0..JOBS {
            let id = prepared_job(&ports, &format!("job-{n:02}"), "container").await;
            submitted_at(
                &ports,
                &id,
                &format!("2026-12-01T10:{:02}:{:02}.000Z", n / 60, n % 60),
            );
            ids.push(id);
        }
        let mut run = Self {
            ports,
            ids,
            jobs: vec![Job::default(); JOBS],
            events: BinaryHeap::new(),
            now_ms: 0,
            sequence: 0,
            mode,
            rng: fastrand::Rng::with_seed(seed),
            quota_calls: 0,
        };
        for n in 0..JOBS {
            let at = n as u64 * SUBMIT_EVERY_MS;
            run.jobs[n].submitted_ms = at;
            // Submitted, started, prepared: then AcquireQuota.
            run.at(at + STEP_MS, Event::Acquire(n));
        }
        run
    }

    fn at(&mut self, ms: u64, event: Event) {
        self.sequence += 1;
        self.events.push(Reverse((ms, self.sequence, event)));
    }

    async fn step(&mut self, task: RunnerTask) -> RunnerOutput {
        let output = handle(&self.ports, task)
            .await
            .expect("the runner's step succeeds");
        self.deliver_wake_ups();
        output
    }

    /// Tokens the step sent: their states go on to AcquireQuota.
    fn deliver_wake_ups(&mut self) {
        for token in self.ports.callbacks.take_delivered() {
            let (job, park) = token.split_once('/').expect("a token of this run");
            let (job, park): (usize, u32) = (job.parse().unwrap(), park.parse().unwrap());
            if self.jobs[job].parked == Some(park) {
                self.jobs[job].parked = None;
                self.at(self.now_ms + STEP_MS, Event::Acquire(job));
            }
        }
    }

    async fn run(&mut self) {
        while let Some(Reverse((ms, _, event))) = self.events.pop() {
            self.ports.clock.advance(Duration::from_millis(ms - self.now_ms));
            self.now_ms = ms;
            match event {
                Event::Acquire(job) => self.acquire(job).await,
                Event::Park(job) => self.park(job).await,
                Event::TimedOut(job, park) if self.jobs[job].parked == Some(park) => {
                    self.jobs[job].parked = None;
                    self.at(ms + STEP_MS, Event::Acquire(job));
                }
                Event::TimedOut(..) => {}
                Event::Finish(job) => self.finish(job).await,
            }
        }
    }

    async fn acquire(&mut self, job: usize) {
        self.quota_calls += 1;
        let task = RunnerTask::Acquire {
            job_id: self.ids[job].clone(),
            phase: Phase::Train,
        };
        let RunnerOutput::Slot { taken, .. } = self.step(task).await else {
            panic!("AcquireQuota answers whether it took the slot")
        };
        let answered = self.now_ms + STEP_MS;
        if taken {
            self.jobs[job].started_ms = Some(answered);
            self.at(answered + RUN_MS, Event::Finish(job));
            return;
        }
        match self.mode {
            Mode::Queue { .. } => self.at(answered, Event::Park(job)),
            Mode::TimedRetries => {
                let retry = self.jobs[job].retries;
                self.jobs[job].retries += 1;
                let ceiling = (RETRY_FIRST_S * RETRY_RATE.powi(retry as i32)).min(RETRY_MAX_S);
                let wait_ms = (self.rng.f64() * ceiling * 1000.0) as u64;
                self.at(answered + wait_ms, Event::Acquire(job));
            }
        }
    }

    async fn park(&mut self, job: usize) {
        self.quota_calls += 1;
        let park = self.jobs[job].parks;
        self.jobs[job].parks += 1;
        self.jobs[job].parked = Some(park);
        self.at(self.now_ms + WAKE_UP_TIMEOUT_MS, Event::TimedOut(job, park));
        let task = RunnerTask::WaitForQuota {
            job_id: self.ids[job].clone(),
            phase: Phase::Train,
            token: TaskToken(format!("{job}/{park}")),
        };
        self.step(task).await;
    }

    async fn finish(&mut self, job: usize) {
        self.jobs[job].finished_ms = Some(self.now_ms);
        if let Mode::Queue { lost } = self.mode {
            if self.rng.f64() < lost {
                *self.ports.callbacks.failing_sends.lock().unwrap() = 1;
            }
        }
        let task = RunnerTask::Release {
            job_id: self.ids[job].clone(),
            phase: Phase::Train,
        };
        self.step(task).await;
        *self.ports.callbacks.failing_sends.lock().unwrap() = 0;
    }

    fn outcome(&self) -> Outcome {
        let end = self.jobs.iter().filter_map(|j| j.finished_ms).max().unwrap_or(0);
        let busy = self.jobs.iter().filter(|j| j.finished_ms.is_some()).count() as f64 * RUN_MS as f64;
        let waits: Vec<f64> = self
            .jobs
            .iter()
            .map(|j| (j.started_ms.unwrap_or(end) - j.submitted_ms) as f64 / 1000.0)
            .collect();
        // Pairs of jobs where the one submitted later started first.
        let overtakes = (0..JOBS)
            .flat_map(|a| (a + 1..JOBS).map(move |b| (a, b)))
            .filter(|&(a, b)| self.jobs[b].started_ms < self.jobs[a].started_ms)
            .count();
        Outcome {
            utilisation: busy / (f64::from(SLOTS) * end as f64),
            makespan_s: end as f64 / 1000.0,
            mean_wait_s: waits.iter().sum::<f64>() / waits.len() as f64,
            max_wait_s: waits.iter().cloned().fold(0.0, f64::max),
            overtakes,
            quota_calls: self.quota_calls,
            finished: self.jobs.iter().filter(|j| j.finished_ms.is_some()).count(),
        }
    }
}

struct Outcome {
    utilisation: f64,
    makespan_s: f64,
    mean_wait_s: f64,
    max_wait_s: f64,
    overtakes: usize,
    quota_calls: u32,
    finished: usize,
}

fn rounded(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

/// The runs of one mode over every seed, summed up.
async fn measure(mode: Mode, seeds: u64) -> (Value, f64, usize) {
    let mut outcomes = Vec::new();
    for seed in 0..seeds {
        let mut run = Run::new(mode, seed + 1).await;
        run.run().await;
        let outcome = run.outcome();
        assert_eq!(outcome.finished, JOBS, "every job ran");
        outcomes.push(outcome);
    }
    let n = outcomes.len() as f64;
    let mean = |f: fn(&Outcome) -> f64| outcomes.iter().map(f).sum::<f64>() / n;
    let worst_utilisation = outcomes.iter().map(|o| o.utilisation).fold(1.0, f64::min);
    let overtakes = outcomes.iter().map(|o| o.overtakes).max().unwrap_or(0);
    let summary = json!({
        "utilisation_mean": rounded(mean(|o| o.utilisation), 4),
        "utilisation_worst": rounded(worst_utilisation, 4),
        "makespan_minutes_mean": rounded(mean(|o| o.makespan_s) / 60.0, 1),
        "wait_minutes_mean": rounded(mean(|o| o.mean_wait_s) / 60.0, 1),
        "wait_minutes_longest": rounded(outcomes.iter().map(|o| o.max_wait_s).fold(0.0, f64::max) / 60.0, 1),
        "overtaken_pairs_most": overtakes,
        "quota_calls_mean": rounded(mean(|o| f64::from(o.quota_calls)), 1),
    });
    (summary, worst_utilisation, overtakes)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let seeds: u64 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(20);
    let (queue, queue_worst, queue_overtakes) = measure(Mode::Queue { lost: 0.0 }, seeds).await;
    let (lossy, _, _) = measure(Mode::Queue { lost: 0.1 }, seeds).await;
    let (retries, _, _) = measure(Mode::TimedRetries, seeds).await;
    let ideal_minutes = (JOBS as u64 * RUN_MS) as f64 / f64::from(SLOTS) / 60_000.0;
    println!(
        "{}",
        json!({
            "jobs": JOBS, "slots": SLOTS, "run_minutes": RUN_MS / 60_000, "seeds": seeds,
            "step_ms": STEP_MS, "wake_up_timeout_s": WAKE_UP_TIMEOUT_MS / 1000,
            "ideal_makespan_minutes": ideal_minutes, "target_utilisation": TARGET_UTILISATION,
            "hand_over": queue, "hand_over_one_in_ten_wake_ups_lost": lossy, "timed_retries": retries,
        })
    );
    if queue_worst < TARGET_UTILISATION || queue_overtakes > 0 {
        eprintln!(
            "bench-quota: the queue kept the slots busy {:.1} % of the time (target {:.0} %), {queue_overtakes} pair(s) of jobs started out of submission order",
            queue_worst * 100.0,
            TARGET_UTILISATION * 100.0
        );
        std::process::exit(1);
    }
}
