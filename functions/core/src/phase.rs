//! Phases of a job (import, train, score), the AWS resources they launch, and the names those
//! resources get. Names derive from the job id (or, for Personalize resources shared by a result
//! set, from the result set), so a retried or rerun launch finds what it created before instead
//! of creating it twice.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::form::Backend;
use crate::job::id::JobId;
use crate::job::status::JobStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Personalize: dataset group, schemas, datasets and import jobs.
    Import,
    /// SageMaker training job, or Personalize solution and solution version.
    Train,
    /// SageMaker processing job running the scoring image, or a Personalize batch inference
    /// job (a batch segment job for an audience).
    Score,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Import => "import",
            Phase::Train => "train",
            Phase::Score => "score",
        }
    }

    /// The job status while this phase runs.
    pub fn status(self) -> JobStatus {
        match self {
            Phase::Import => JobStatus::Importing,
            Phase::Train => JobStatus::Training,
            Phase::Score => JobStatus::Scoring,
        }
    }

    /// The phases a backend runs, in order.
    pub fn plan(backend: Backend) -> &'static [Phase] {
        match backend {
            Backend::Container => &[Phase::Train, Phase::Score],
            Backend::Personalize => &[Phase::Import, Phase::Train, Phase::Score],
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of AWS resource a job launched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    TrainingJob,
    ProcessingJob,
    DatasetGroup,
    Schema,
    Dataset,
    DatasetImportJob,
    Solution,
    SolutionVersion,
    BatchInferenceJob,
    BatchSegmentJob,
}

impl ResourceKind {
    /// Resources that run and end (and hold quota while they run), as opposed to containers
    /// such as dataset groups that are created once and then exist.
    pub fn is_job(self) -> bool {
        matches!(
            self,
            ResourceKind::TrainingJob
                | ResourceKind::ProcessingJob
                | ResourceKind::DatasetImportJob
                | ResourceKind::SolutionVersion
                | ResourceKind::BatchInferenceJob
                | ResourceKind::BatchSegmentJob
        )
    }
}

/// Where a launched resource stands, as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResourceState {
    /// Recorded just before the create call; the call may not have happened yet.
    Launching,
    Running,
    Succeeded,
    Failed,
    Stopped,
}

impl ResourceState {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ResourceState::Succeeded | ResourceState::Failed | ResourceState::Stopped
        )
    }
}

/// One resource on a job record (`resources` map, keyed by name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchedResource {
    pub phase: Phase,
    pub kind: ResourceKind,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// 1 for the first launch; relaunches after platform failures count up.
    pub attempt: u32,
    pub state: ResourceState,
    /// When this entry last changed state.
    pub at: String,
    /// Why it failed or was stopped, in the service's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// It failed for the platform's reasons (worth a relaunch), not the workload's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub platform_failure: bool,
    /// Finished by an earlier job and reused by this one (a retry): nothing was launched again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused: Option<Reused>,
}

/// Where a reused resource came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reused {
    /// The job that launched it: its outputs (a trained model) are under that job's prefix.
    pub job_id: JobId,
}

impl LaunchedResource {
    /// The job whose results prefix holds this resource's output: the one that launched it.
    pub fn launched_by<'a>(&'a self, this_job: &'a JobId) -> &'a JobId {
        self.reused.as_ref().map_or(this_job, |reused| &reused.job_id)
    }
}

/// Longest name SageMaker jobs and Personalize resources accept.
pub const MAX_RESOURCE_NAME: usize = 63;

/// Name of a resource that belongs to one job:
/// `rf-<readable part of the job id>-<hash of the job id>-<phase>[-<part>]-<attempt>`,
/// lower case, digits and single hyphens, at most 63 characters: valid for SageMaker
/// (`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`) and for Personalize.
pub fn job_resource_name(job_id: &JobId, phase: Phase, part: Option<&str>, attempt: u32) -> String {
    let hash = short_hash(job_id.as_str(), 10);
    let tail = match part {
        Some(part) => format!("{phase}-{}-{attempt}", slug(part, 16)),
        None => format!("{phase}-{attempt}"),
    };
    let room = MAX_RESOURCE_NAME - "rf-".len() - hash.len() - tail.len() - 2;
    let readable = slug(job_id.as_str(), room.min(24));
    if readable.is_empty() {
        format!("rf-{hash}-{tail}")
    } else {
        format!("rf-{readable}-{hash}-{tail}")
    }
}

/// Name of a Personalize resource shared by every job of a result set (dataset group,
/// datasets, solutions), so a rerun reuses it. `result_set` is a form slug (≤ 48 chars).
pub fn result_set_resource_name(result_set: &str, part: Option<&str>) -> String {
    let name = match part {
        Some(part) => format!("rf-{}-{}", slug(result_set, 48), slug(part, MAX_RESOURCE_NAME)),
        None => format!("rf-{}", slug(result_set, 48)),
    };
    fit(name)
}

/// `<prefix>-<hash of content>`: a name that changes whenever the content does (schemas).
pub fn content_name(prefix: &str, content: &str) -> String {
    fit(format!("rf-{}-{}", slug(prefix, 32), short_hash(content, 12)))
}

/// Prefix every name of this job's phase starts with (before the part and attempt).
pub fn job_phase_prefix(job_id: &JobId, phase: Phase) -> String {
    let full = job_resource_name(job_id, phase, None, 1);
    full.strip_suffix("-1").unwrap_or(&full).to_owned()
}

fn fit(name: String) -> String {
    if name.len() <= MAX_RESOURCE_NAME {
        return name;
    }
    // Over long: keep what fits and a hash of the whole, so distinct names stay distinct.
    let hash = short_hash(&name, 8);
    let keep = &name[..MAX_RESOURCE_NAME - hash.len() - 1];
    format!("{}-{hash}", keep.trim_end_matches('-'))
}

/// Lower-case ASCII letters and digits, other runs of characters as one hyphen, at most
/// `max` characters, no hyphen at either end.
fn slug(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(max);
    let mut pending_hyphen = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_hyphen && !out.is_empty() {
                out.push('-');
            }
            pending_hyphen = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_hyphen = true;
        }
        if out.len() >= max {
            break;
        }
    }
    out.truncate(max);
    out.trim_end_matches('-').to_owned()
}

/// The first `chars` hex digits of the text's SHA-256.
pub(crate) fn short_hash(text: &str, chars: usize) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect::<String>()[..chars].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_sagemaker_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 63
            && name.chars().next().unwrap().is_ascii_alphanumeric()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !name.contains("--")
            && !name.ends_with('-')
    }

    #[test]
    fn job_resource_names_are_valid_deterministic_and_distinct() {
        let long = JobId::parse(&format!("{}-{}", "x".repeat(58), "a".repeat(20))).unwrap();
        let short = JobId::parse("api_42").unwrap();
        for id in [&long, &short] {
            for phase in [Phase::Import, Phase::Train, Phase::Score] {
                for part in [None, Some("interactions")] {
                    let name = job_resource_name(id, phase, part, 12);
                    assert!(is_sagemaker_name(&name), "{name}");
                    assert_eq!(name, job_resource_name(id, phase, part, 12));
                    assert!(name.starts_with(&job_phase_prefix(id, phase)), "{name}");
                }
            }
        }
        let other = JobId::parse(&format!("{}-{}", "x".repeat(58), "b".repeat(20))).unwrap();
        assert_ne!(
            job_resource_name(&long, Phase::Train, None, 1),
            job_resource_name(&other, Phase::Train, None, 1)
        );
        assert_ne!(
            job_resource_name(&long, Phase::Train, None, 1),
            job_resource_name(&long, Phase::Train, None, 2)
        );
    }

    #[test]
    fn result_set_names_fit_and_stay_distinct() {
        let set = "a".repeat(48);
        let a = result_set_resource_name(&set, Some("user-personalization-v2-hpo"));
        let b = result_set_resource_name(&set, Some("user-personalization-v2-nohpo"));
        assert!(a.len() <= 63 && b.len() <= 63);
        assert_ne!(a, b);
        assert_eq!(result_set_resource_name("spring-2026", None), "rf-spring-2026");
        assert_ne!(content_name("users", "{a}"), content_name("users", "{b}"));
    }

    #[test]
    fn plans_follow_the_backend() {
        assert_eq!(Phase::plan(Backend::Container), &[Phase::Train, Phase::Score]);
        assert_eq!(Phase::plan(Backend::Personalize)[0], Phase::Import);
        assert_eq!(Phase::Score.status(), JobStatus::Scoring);
    }
}
