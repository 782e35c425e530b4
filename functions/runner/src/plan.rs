//! What each phase creates, in stages: every resource of a stage must be ready before the next
//! stage is created (a Personalize dataset needs its dataset group ACTIVE, an import needs its
//! dataset). Names come from the job id, or, for the Personalize resources that the jobs of a
//! result set share, from the result set and the job's schema generation (the columns of its
//! files: `recoflow_core::personalize_datasets`), so describe-then-create never duplicates
//! anything and a dataset never gets data its schema does not fit.

use recoflow_core::form::{AudienceCut, AudienceTarget, Backend, JobForm, Output};
use recoflow_core::job::{JobId, JobRecord, Prepared};
use recoflow_core::launch::{
    ProcessingInput, ProcessingJobSpec, ResourceSpec, Tag, TrainingJobSpec, TAG_JOB_ID, TAG_RESULT_SET,
    TAG_SUBMITTED_BY,
};
use recoflow_core::outputs::item_input_key;
use recoflow_core::personalize_datasets::{dataset_files, SchemaGeneration};
use recoflow_core::phase::{content_name, job_resource_name, Phase, ResourceKind, ResourceState};
use recoflow_core::scoring_parts::{group_folder, group_name, scoring_instances};
use serde_json::json;

/// Where a processing job's container finds its inputs and leaves its output.
const MODEL_PATH: &str = "/opt/ml/processing/input/model";
const USERS_PATH: &str = "/opt/ml/processing/input/users";
const ITEMS_PATH: &str = "/opt/ml/processing/input/items";
const CATALOG_PATH: &str = "/opt/ml/processing/input/catalog";
const OUTPUT_PATH: &str = "/opt/ml/processing/output";

/// Most users a Personalize batch segment job answers per item (the service's `numResults`
/// maximum).
pub const MAX_SEGMENT_USERS: u32 = 5_000_000;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A later phase needs what an earlier one should have left on the record.
    #[error("{0}")]
    Missing(String),
}

pub struct PlanContext<'a> {
    pub job_id: &'a JobId,
    pub form: &'a JobForm,
    pub record: &'a JobRecord,
    pub prepared: &'a Prepared,
    pub results_bucket: &'a str,
    /// Launches allowed per job resource (the first plus relaunches after platform failures).
    pub max_attempts: u32,
}

impl PlanContext<'_> {
    fn tags(&self) -> Vec<Tag> {
        [
            (TAG_JOB_ID, self.job_id.as_str()),
            (TAG_RESULT_SET, self.form.result_set.as_str()),
            (TAG_SUBMITTED_BY, self.form.submitted_by.as_str()),
        ]
        .into_iter()
        .map(|(key, value)| Tag {
            key: key.to_owned(),
            value: value.to_owned(),
        })
        .collect()
    }

    fn results_uri(&self, what: &str) -> String {
        self.results_uri_of(self.job_id, what)
    }

    /// Under the prefix of `job_id`: this job's, or the earlier job's whose resource a retry
    /// reuses.
    fn results_uri_of(&self, job_id: &JobId, what: &str) -> String {
        format!("s3://{}/jobs/{job_id}/{what}/", self.results_bucket)
    }

    /// The items Prepare wrote for an audience or similar-items job, as batch input lines.
    fn item_input(&self) -> String {
        format!("s3://{}/{}", self.results_bucket, item_input_key(self.job_id))
    }

    /// The name of this job's resource for `phase`/`part` at its current attempt: the first
    /// attempt, or the next one when the last failed for the platform's reasons.
    fn job_name(&self, phase: Phase, part: Option<&str>) -> String {
        let mut attempt = 1;
        loop {
            let name = job_resource_name(self.job_id, phase, part, attempt);
            let relaunch = self
                .record
                .resources
                .get(&name)
                .is_some_and(|r| r.state == ResourceState::Failed && r.platform_failure);
            if !relaunch || attempt >= self.max_attempts {
                return name;
            }
            attempt += 1;
        }
    }

    /// The result set's Personalize resources for this job's columns.
    fn generation(&self) -> SchemaGeneration {
        SchemaGeneration::of(&self.form.result_set, &dataset_files(self.prepared))
    }

    /// The resource of `kind` that succeeded in `phase` (the last attempt).
    fn succeeded(&self, phase: Phase, kind: ResourceKind) -> Option<&recoflow_core::phase::LaunchedResource> {
        self.record
            .resources
            .values()
            .filter(|r| r.phase == phase && r.kind == kind && r.state == ResourceState::Succeeded)
            .max_by_key(|r| r.attempt)
    }
}

/// The stages of `phase` for this job.
pub fn stages(ctx: &PlanContext<'_>, phase: Phase) -> Result<Vec<Vec<ResourceSpec>>, PlanError> {
    match (ctx.form.backend, phase) {
        (Backend::Container, Phase::Train) => Ok(vec![vec![training_job(ctx)?]]),
        (Backend::Container, Phase::Score) => Ok(vec![vec![processing_job(ctx)?]]),
        (Backend::Container, Phase::Import) => Ok(Vec::new()),
        (Backend::Personalize, Phase::Import) => Ok(personalize_import(ctx)),
        (Backend::Personalize, Phase::Train) => Ok(personalize_train(ctx)),
        (Backend::Personalize, Phase::Score) if ctx.form.output == Output::Audience => {
            Ok(vec![vec![batch_segment(ctx)?]])
        }
        (Backend::Personalize, Phase::Score) => batch_inference(ctx),
    }
}

fn container_settings<'a>(
    ctx: &PlanContext<'a>,
) -> Result<&'a recoflow_core::form::ContainerSettings, PlanError> {
    ctx.form
        .container
        .as_ref()
        .ok_or_else(|| PlanError::Missing("the form has no container block".into()))
}

fn training_job(ctx: &PlanContext<'_>) -> Result<ResourceSpec, PlanError> {
    let container = container_settings(ctx)?;
    let channels = ctx
        .form
        .dataset
        .files()
        .into_iter()
        .map(|(field, uri)| {
            let channel = field.strip_prefix("dataset.").unwrap_or(field);
            (channel.to_owned(), uri.to_owned())
        })
        .collect();
    Ok(ResourceSpec::TrainingJob(TrainingJobSpec {
        name: ctx.job_name(Phase::Train, None),
        image: container.training_image.clone(),
        instance_type: container.instance_type.clone(),
        instance_count: container.instance_count,
        max_runtime_seconds: container.max_runtime_seconds,
        hyperparameters: container.hyperparameters.clone(),
        channels,
        output_path: ctx.results_uri("model"),
        network_isolation: container.network_isolation,
        tags: ctx.tags(),
    }))
}

fn processing_job(ctx: &PlanContext<'_>) -> Result<ResourceSpec, PlanError> {
    let container = container_settings(ctx)?;
    let trained = ctx
        .succeeded(Phase::Train, ResourceKind::TrainingJob)
        .ok_or_else(|| PlanError::Missing("no training job of this job succeeded".into()))?;
    // SageMaker puts the model at <output path><job name>/output/model.tar.gz; a reused model
    // is under the prefix of the job that trained it.
    let model = format!(
        "{}{}/output/model.tar.gz",
        ctx.results_uri_of(trained.launched_by(ctx.job_id), "model"),
        trained.name
    );
    let model = ProcessingInput {
        name: "model".into(),
        s3_uri: model,
        local_path: MODEL_PATH.into(),
        sharded: false,
    };
    let (arguments, inputs) = scoring_command(ctx, model)?;
    Ok(ResourceSpec::ProcessingJob(ProcessingJobSpec {
        name: ctx.job_name(Phase::Score, None),
        image: container.scoring_image.clone(),
        instance_type: container.instance_type.clone(),
        // An instance beyond the parts would get no data and idle.
        instance_count: scoring_instances(ctx.form).min(ctx.prepared.scoring_parts.max(1) as u32),
        max_runtime_seconds: container.max_runtime_seconds,
        arguments,
        inputs,
        output: (OUTPUT_PATH.into(), ctx.results_uri("scores")),
        network_isolation: container.network_isolation,
        tags: ctx.tags(),
    }))
}

/// The scoring image's command for the form's output (the reference container's `score`,
/// `similar` or `audience`: `containers/recsys/README.md`) and the inputs it reads.
fn scoring_command(
    ctx: &PlanContext<'_>,
    model: ProcessingInput,
) -> Result<(Vec<String>, Vec<ProcessingInput>), PlanError> {
    let input = |name: &str, s3_uri: String, local_path: &str| ProcessingInput {
        name: name.into(),
        s3_uri,
        local_path: local_path.into(),
        sharded: false,
    };
    // Users' lists split the parts over the instances; an audience ranks every candidate.
    let users = ProcessingInput {
        sharded: ctx.form.output == Output::UserItems,
        ..input("users", ctx.prepared.scoring_input.clone(), USERS_PATH)
    };
    let items = input("items", ctx.item_input(), ITEMS_PATH);
    let num_results = ctx.form.num_results.to_string();
    Ok(match ctx.form.output {
        Output::UserItems => (
            vec!["score".into(), "--num-results".into(), num_results],
            vec![model, users],
        ),
        Output::SimilarItems => (
            vec!["similar".into(), "--num-results".into(), num_results],
            vec![model, items],
        ),
        Output::Audience => {
            let audience = audience_settings(ctx)?;
            // Every candidate may be kept when the audience is cut by score.
            let (num_results, min_score) = match audience.cut() {
                AudienceCut::Size(size) => (u64::from(size), None),
                AudienceCut::MinScore(min) => (ctx.prepared.users_to_score.max(1), Some(min)),
            };
            let mut arguments = vec!["audience".into(), "--num-results".into(), num_results.to_string()];
            if let Some(min) = min_score {
                arguments.extend(["--min-score".into(), min.to_string()]);
            }
            let mut inputs = vec![model, items, users];
            if let AudienceTarget::ItemFilter(_) = audience.target() {
                let catalog = ctx.form.dataset.items.clone().ok_or_else(|| {
                    PlanError::Missing("an audience for an item_filter needs dataset.items".into())
                })?;
                inputs.push(input("catalog", catalog, CATALOG_PATH));
            }
            (arguments, inputs)
        }
    })
}

fn audience_settings<'a>(ctx: &PlanContext<'a>) -> Result<&'a recoflow_core::form::Audience, PlanError> {
    ctx.form.audience.as_ref().ok_or_else(|| {
        PlanError::Missing("the form's output is audience but it has no audience block".into())
    })
}

fn personalize_import(ctx: &PlanContext<'_>) -> Vec<Vec<ResourceSpec>> {
    let generation = ctx.generation();
    let group = generation.dataset_group();
    let mut containers = vec![ResourceSpec::DatasetGroup {
        name: group.clone(),
        tags: ctx.tags(),
    }];
    let mut datasets = Vec::new();
    let mut imports = Vec::new();
    for file in dataset_files(ctx.prepared) {
        let dataset_type = file.dataset_type;
        let schema = content_name(dataset_type.lowercase(), &file.schema);
        containers.push(ResourceSpec::Schema {
            name: schema.clone(),
            schema: file.schema,
        });
        datasets.push(ResourceSpec::Dataset {
            name: generation.resource(dataset_type.lowercase()),
            group: group.clone(),
            dataset_type,
            schema,
            tags: ctx.tags(),
        });
        imports.push(ResourceSpec::DatasetImportJob {
            name: ctx.job_name(Phase::Import, Some(dataset_type.lowercase())),
            group: group.clone(),
            dataset_type,
            data_location: file.uri.to_owned(),
            tags: ctx.tags(),
        });
    }
    vec![containers, datasets, imports]
}

fn personalize_settings(ctx: &PlanContext<'_>) -> recoflow_core::form::PersonalizeSettings {
    ctx.form
        .personalize
        .clone()
        .unwrap_or_else(|| serde_json::from_value(json!({})).expect("the personalize block's defaults"))
}

fn personalize_train(ctx: &PlanContext<'_>) -> Vec<Vec<ResourceSpec>> {
    let settings = personalize_settings(ctx);
    let generation = ctx.generation();
    let group = generation.dataset_group();
    let hpo = if settings.perform_hpo { "hpo" } else { "std" };
    let solution = generation.resource(&format!("{}-{hpo}", settings.recipe));
    let name = ctx.job_name(Phase::Train, None);
    let arn = ctx.record.resources.get(&name).and_then(|r| r.arn.clone());
    vec![
        vec![ResourceSpec::Solution {
            name: solution.clone(),
            group,
            recipe: settings.recipe.clone(),
            perform_hpo: settings.perform_hpo,
            tags: ctx.tags(),
        }],
        vec![ResourceSpec::SolutionVersion {
            name,
            solution,
            training_mode: settings.training_mode,
            arn,
            tags: ctx.tags(),
        }],
    ]
}

/// The solution version this job trained.
fn trained_version(ctx: &PlanContext<'_>) -> Result<String, PlanError> {
    ctx.succeeded(Phase::Train, ResourceKind::SolutionVersion)
        .and_then(|r| r.arn.clone())
        .ok_or_else(|| PlanError::Missing("no solution version of this job is active".into()))
}

/// Users' lists: one batch inference job per group folder of parts (a job takes one folder),
/// each a stage of its own so the phase holds one job's quota; similar items: one job on the
/// item lines.
fn batch_inference(ctx: &PlanContext<'_>) -> Result<Vec<Vec<ResourceSpec>>, PlanError> {
    let solution_version_arn = trained_version(ctx)?;
    let job = |group: Option<u64>, input: String| {
        let folder = group.map(group_folder).unwrap_or_default();
        ResourceSpec::BatchInferenceJob {
            name: ctx.job_name(Phase::Score, group.map(group_name).as_deref()),
            solution_version_arn: solution_version_arn.clone(),
            input: format!("{input}{folder}"),
            output: format!("{}{folder}", ctx.results_uri("scores")),
            num_results: ctx.form.num_results,
            tags: ctx.tags(),
        }
    };
    Ok(match ctx.form.output {
        // Prepared before the scoring input came in parts: nothing to score from, and an empty
        // version would follow; the job is retried (Prepare again) instead.
        Output::UserItems if ctx.prepared.scoring_groups == 0 => {
            return Err(PlanError::Missing(
                "the job was prepared without scoring parts (before an upgrade): retry it".into(),
            ))
        }
        Output::UserItems => (0..ctx.prepared.scoring_groups)
            .map(|group| vec![job(Some(group), ctx.prepared.scoring_input.clone())])
            .collect(),
        Output::SimilarItems | Output::Audience => vec![vec![job(None, ctx.item_input())]],
    })
}

/// An audience on Personalize: its users ranked for each item line. Personalize ranks every
/// user it knows, and who may be in the audience (the segment, the users file's users) is
/// applied when the answer is delivered, so such a job, or one cut by score, asks for every
/// user; one with neither, for the audience's size.
fn batch_segment(ctx: &PlanContext<'_>) -> Result<ResourceSpec, PlanError> {
    let audience = audience_settings(ctx)?;
    let everyone = ctx.form.segment.is_none() && ctx.form.dataset.users.is_none();
    let num_results = match audience.cut() {
        AudienceCut::Size(size) if everyone => size.min(MAX_SEGMENT_USERS),
        _ => MAX_SEGMENT_USERS,
    };
    Ok(ResourceSpec::BatchSegmentJob {
        name: ctx.job_name(Phase::Score, None),
        solution_version_arn: trained_version(ctx)?,
        input: ctx.item_input(),
        output: ctx.results_uri("scores"),
        num_results,
        tags: ctx.tags(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use recoflow_core::fakes::test_form;
    use recoflow_core::job::{now_rfc3339, JobSource, PreparedFile};
    use recoflow_core::launch::DatasetType;
    use recoflow_core::phase::LaunchedResource;

    fn record(backend: &str) -> JobRecord {
        let mut record = JobRecord::queued(
            JobId::parse("spring-1").unwrap(),
            JobSource::Api {
                idempotency_key: None,
            },
            test_form(backend),
            "d".into(),
            &now_rfc3339(),
        );
        record.prepared = Some(Prepared {
            files: vec![
                PreparedFile {
                    field: "dataset.users".into(),
                    uri: "s3://data/u.csv".into(),
                    bytes: 10,
                    columns: vec!["USER_ID".into(), "GENDER".into()],
                },
                PreparedFile {
                    field: "dataset.interactions".into(),
                    uri: "s3://data/i.csv".into(),
                    bytes: 10,
                    columns: vec!["USER_ID".into(), "ITEM_ID".into(), "TIMESTAMP".into()],
                },
            ],
            scoring_input: "s3://results/jobs/spring-1/input/users/".into(),
            users_to_score: 2,
            scoring_parts: 1,
            scoring_groups: 1,
        });
        record
    }

    fn ctx(record: &JobRecord) -> PlanContext<'_> {
        PlanContext {
            job_id: &record.job_id,
            form: record.form.as_ref().unwrap(),
            record,
            prepared: record.prepared.as_ref().unwrap(),
            results_bucket: "results",
            max_attempts: 3,
        }
    }

    fn resource(
        name: &str,
        phase: Phase,
        kind: ResourceKind,
        state: ResourceState,
        platform: bool,
    ) -> LaunchedResource {
        LaunchedResource {
            phase,
            kind,
            name: name.into(),
            arn: Some(format!("arn:{name}")),
            attempt: name.rsplit('-').next().unwrap().parse().unwrap(),
            state,
            at: now_rfc3339(),
            reason: None,
            platform_failure: platform,
            reused: None,
        }
    }

    #[test]
    fn container_training_reads_the_form_and_tags_the_job() {
        let record = record("container");
        let stages = stages(&ctx(&record), Phase::Train).unwrap();
        let ResourceSpec::TrainingJob(spec) = &stages[0][0] else {
            panic!("{stages:?}")
        };
        assert_eq!(
            spec.name,
            job_resource_name(&record.job_id, Phase::Train, None, 1)
        );
        assert_eq!(spec.instance_type, "ml.m5.large");
        assert_eq!(
            spec.channels,
            [
                ("interactions".to_owned(), "s3://data/i.csv".to_owned()),
                ("users".to_owned(), "s3://data/u.csv".to_owned())
            ]
        );
        assert_eq!(spec.output_path, "s3://results/jobs/spring-1/model/");
        assert!(spec.network_isolation, "isolated unless the form says otherwise");
        let tags: Vec<(&str, &str)> = spec
            .tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect();
        assert_eq!(
            tags,
            [
                ("recoflow:job-id", "spring-1"),
                ("recoflow:result-set", "spring"),
                ("recoflow:submitted-by", "ana@example.com")
            ]
        );
    }

    #[test]
    fn a_platform_failure_moves_to_the_next_attempt_up_to_the_limit() {
        let mut record = record("container");
        for attempt in 1..=3 {
            let name = job_resource_name(&record.job_id, Phase::Train, None, attempt);
            record.resources.insert(
                name.clone(),
                resource(
                    &name,
                    Phase::Train,
                    ResourceKind::TrainingJob,
                    ResourceState::Failed,
                    true,
                ),
            );
            let expected = job_resource_name(&record.job_id, Phase::Train, None, (attempt + 1).min(3));
            let stages = stages(&ctx(&record), Phase::Train).unwrap();
            assert_eq!(stages[0][0].name(), expected, "after attempt {attempt}");
        }
    }

    #[test]
    fn a_retry_scores_with_the_model_of_the_job_it_reuses() {
        let mut record = record("container");
        let earlier = JobId::parse("spring-0").unwrap();
        let name = job_resource_name(&earlier, Phase::Train, None, 1);
        let mut trained = resource(
            &name,
            Phase::Train,
            ResourceKind::TrainingJob,
            ResourceState::Succeeded,
            false,
        );
        trained.reused = Some(recoflow_core::phase::Reused { job_id: earlier });
        record.resources.insert(name.clone(), trained);
        let stages = stages(&ctx(&record), Phase::Score).unwrap();
        let ResourceSpec::ProcessingJob(spec) = &stages[0][0] else {
            panic!()
        };
        assert_eq!(
            spec.inputs[0].s3_uri,
            format!("s3://results/jobs/spring-0/model/{name}/output/model.tar.gz")
        );
        // Its own scoring job, input and output.
        assert_eq!(
            spec.name,
            job_resource_name(&record.job_id, Phase::Score, None, 1)
        );
        assert_eq!(spec.inputs[1].s3_uri, "s3://results/jobs/spring-1/input/users/");
    }

    #[test]
    fn scoring_uses_the_model_of_the_training_attempt_that_succeeded() {
        let mut record = record("container");
        assert!(stages(&ctx(&record), Phase::Score).is_err());
        let name = job_resource_name(&record.job_id, Phase::Train, None, 2);
        record.resources.insert(
            name.clone(),
            resource(
                &name,
                Phase::Train,
                ResourceKind::TrainingJob,
                ResourceState::Succeeded,
                false,
            ),
        );
        let stages = stages(&ctx(&record), Phase::Score).unwrap();
        let ResourceSpec::ProcessingJob(spec) = &stages[0][0] else {
            panic!()
        };
        assert_eq!(
            spec.inputs[0].s3_uri,
            format!("s3://results/jobs/spring-1/model/{name}/output/model.tar.gz")
        );
        assert_eq!(spec.inputs[1].s3_uri, "s3://results/jobs/spring-1/input/users/");
        assert_eq!(spec.output.1, "s3://results/jobs/spring-1/scores/");
        assert_eq!(spec.arguments, ["score", "--num-results", "5"]);
    }

    #[test]
    fn personalize_import_creates_containers_then_datasets_then_imports() {
        let record = record("personalize");
        let stages = stages(&ctx(&record), Phase::Import).unwrap();
        let kinds: Vec<Vec<ResourceKind>> = stages
            .iter()
            .map(|s| s.iter().map(ResourceSpec::kind).collect())
            .collect();
        assert_eq!(
            kinds,
            [
                vec![
                    ResourceKind::DatasetGroup,
                    ResourceKind::Schema,
                    ResourceKind::Schema
                ],
                vec![ResourceKind::Dataset, ResourceKind::Dataset],
                vec![ResourceKind::DatasetImportJob, ResourceKind::DatasetImportJob],
            ]
        );
        let group = stages[0][0].name();
        assert!(
            group.starts_with("rf-spring-g"),
            "named by the schema generation: {group}"
        );
        let ResourceSpec::Dataset {
            dataset_type,
            group: dataset_group,
            ..
        } = &stages[1][0]
        else {
            panic!()
        };
        assert_eq!(*dataset_type, DatasetType::Interactions, "interactions first");
        assert_eq!(dataset_group, group);
        assert_eq!(stages[1][0].name(), format!("{group}-interactions"));
    }

    /// Every name the job's Personalize resources get, by kind.
    fn personalize_names(record: &JobRecord) -> Vec<(ResourceKind, String)> {
        [Phase::Import, Phase::Train]
            .into_iter()
            .flat_map(|phase| stages(&ctx(record), phase).unwrap())
            .flatten()
            .filter(|spec| !spec.kind().is_job())
            .map(|spec| (spec.kind(), spec.name().to_owned()))
            .collect()
    }

    #[test]
    fn a_changed_header_gets_a_dataset_group_of_its_own_and_the_same_columns_share_one() {
        let before = record("personalize");
        let mut rerun = record("personalize");
        rerun.job_id = JobId::parse("spring-2").unwrap();
        assert_eq!(personalize_names(&before), personalize_names(&rerun));

        let mut changed = record("personalize");
        changed.prepared.as_mut().unwrap().files[0]
            .columns
            .push("AGE".into());
        let mut with_items = record("personalize");
        with_items.prepared.as_mut().unwrap().files.push(PreparedFile {
            field: "dataset.items".into(),
            uri: "s3://data/items.csv".into(),
            bytes: 10,
            columns: vec!["ITEM_ID".into(), "CATEGORY".into()],
        });
        let old: Vec<(ResourceKind, String)> = personalize_names(&before);
        for other in [&changed, &with_items] {
            for (kind, name) in personalize_names(other) {
                // Schemas are named by their content; a changed one is new, an unchanged one shared.
                if kind != ResourceKind::Schema {
                    assert!(!old.iter().any(|(_, n)| *n == name), "{kind:?} {name} is shared");
                }
            }
        }
    }

    #[test]
    fn batch_inference_needs_the_active_solution_version() {
        let mut record = record("personalize");
        assert!(stages(&ctx(&record), Phase::Score).is_err());
        let name = job_resource_name(&record.job_id, Phase::Train, None, 1);
        record.resources.insert(
            name.clone(),
            resource(
                &name,
                Phase::Train,
                ResourceKind::SolutionVersion,
                ResourceState::Succeeded,
                false,
            ),
        );
        let stages = stages(&ctx(&record), Phase::Score).unwrap();
        let ResourceSpec::BatchInferenceJob {
            solution_version_arn,
            num_results,
            ..
        } = &stages[0][0]
        else {
            panic!()
        };
        assert_eq!(solution_version_arn, &format!("arn:{name}"));
        assert_eq!(*num_results, 5);
    }

    #[test]
    fn personalize_scoring_of_a_job_prepared_without_parts_is_refused() {
        let mut record = trained(record("personalize"), ResourceKind::SolutionVersion);
        let prepared = record.prepared.as_mut().unwrap();
        (prepared.scoring_parts, prepared.scoring_groups) = (0, 0);
        let error = stages(&ctx(&record), Phase::Score).unwrap_err();
        assert!(error.to_string().contains("retry it"), "{error}");
    }

    #[test]
    fn personalize_scores_each_group_of_parts_in_a_stage_of_its_own() {
        let mut record = trained(record("personalize"), ResourceKind::SolutionVersion);
        let prepared = record.prepared.as_mut().unwrap();
        (prepared.scoring_parts, prepared.scoring_groups) = (5, 3);
        let stages = stages(&ctx(&record), Phase::Score).unwrap();
        let jobs: Vec<(&str, &str, &str)> = stages
            .iter()
            .map(|stage| match stage.as_slice() {
                [ResourceSpec::BatchInferenceJob {
                    name, input, output, ..
                }] => (name.as_str(), input.as_str(), output.as_str()),
                other => panic!("one batch inference job a stage: {other:?}"),
            })
            .collect();
        let name = |group: &str| job_resource_name(&record.job_id, Phase::Score, Some(group), 1);
        assert_eq!(
            jobs,
            [
                (
                    name("g0000").as_str(),
                    "s3://results/jobs/spring-1/input/users/g0000/",
                    "s3://results/jobs/spring-1/scores/g0000/"
                ),
                (
                    name("g0001").as_str(),
                    "s3://results/jobs/spring-1/input/users/g0001/",
                    "s3://results/jobs/spring-1/scores/g0001/"
                ),
                (
                    name("g0002").as_str(),
                    "s3://results/jobs/spring-1/input/users/g0002/",
                    "s3://results/jobs/spring-1/scores/g0002/"
                ),
            ]
        );
    }

    #[test]
    fn container_scoring_shards_the_parts_over_the_form_s_instances() {
        let mut record = trained(record("container"), ResourceKind::TrainingJob);
        let mut form = record.form.take().unwrap();
        form.container.as_mut().unwrap().instance_count = 4;
        record.form = Some(form);
        let processing = |record: &JobRecord| match &stages(&ctx(record), Phase::Score).unwrap()[0][0] {
            ResourceSpec::ProcessingJob(spec) => spec.clone(),
            other => panic!("{other:?}"),
        };
        record.prepared.as_mut().unwrap().scoring_parts = 6;
        let spec = processing(&record);
        assert_eq!(spec.instance_count, 4);
        let sharding: Vec<(&str, bool)> = spec.inputs.iter().map(|i| (i.name.as_str(), i.sharded)).collect();
        assert_eq!(sharding, [("model", false), ("users", true)]);
        // Fewer parts than instances: an instance a part.
        record.prepared.as_mut().unwrap().scoring_parts = 2;
        assert_eq!(processing(&record).instance_count, 2);
    }

    #[test]
    fn an_audience_ranks_every_candidate_on_one_instance() {
        let output = json!({"output": "audience", "audience": {"items": ["i1"], "size": 5}});
        let mut record = trained(making("container", output), ResourceKind::TrainingJob);
        let mut form = record.form.take().unwrap();
        form.container.as_mut().unwrap().instance_count = 4;
        record.form = Some(form);
        record.prepared.as_mut().unwrap().scoring_parts = 6;
        let ResourceSpec::ProcessingJob(spec) = &stages(&ctx(&record), Phase::Score).unwrap()[0][0] else {
            panic!()
        };
        assert_eq!(spec.instance_count, 1);
        assert!(spec.inputs.iter().all(|i| !i.sharded), "{:?}", spec.inputs);
    }

    /// The record of `record(backend)` making another output.
    fn making(backend: &str, output: serde_json::Value) -> JobRecord {
        let mut record = record(backend);
        let mut form = serde_json::to_value(record.form.as_ref().unwrap()).unwrap();
        let form_object = form.as_object_mut().unwrap();
        form_object.remove("num_results");
        for (key, value) in output.as_object().unwrap() {
            form_object.insert(key.clone(), value.clone());
        }
        record.form = Some(serde_json::from_value(form).unwrap());
        record
    }

    fn trained(mut record: JobRecord, kind: ResourceKind) -> JobRecord {
        let name = job_resource_name(&record.job_id, Phase::Train, None, 1);
        let resource = resource(&name, Phase::Train, kind, ResourceState::Succeeded, false);
        record.resources.insert(name, resource);
        record
    }

    const ITEMS: &str = "s3://results/jobs/spring-1/input/items.jsonl";

    #[test]
    fn similar_items_score_the_item_lines_on_either_backend() {
        let output = json!({"output": "similar_items", "num_results": 7});
        let record = trained(making("container", output.clone()), ResourceKind::TrainingJob);
        let ResourceSpec::ProcessingJob(spec) = &stages(&ctx(&record), Phase::Score).unwrap()[0][0] else {
            panic!()
        };
        assert_eq!(spec.arguments, ["similar", "--num-results", "7"]);
        let inputs: Vec<(&str, &str, &str)> = spec
            .inputs
            .iter()
            .map(|i| (i.name.as_str(), i.s3_uri.as_str(), i.local_path.as_str()))
            .collect();
        assert_eq!(inputs[1], ("items", ITEMS, ITEMS_PATH));
        assert_eq!(inputs.len(), 2);

        let mut output = output;
        output["personalize"] = json!({"recipe": "aws-similar-items"});
        let record = trained(making("personalize", output), ResourceKind::SolutionVersion);
        let ResourceSpec::BatchInferenceJob {
            input, num_results, ..
        } = &stages(&ctx(&record), Phase::Score).unwrap()[0][0]
        else {
            panic!()
        };
        assert_eq!((input.as_str(), *num_results), (ITEMS, 7));
    }

    #[test]
    fn an_audience_ranks_the_segment_s_users_in_the_container_with_the_catalogue_for_a_filter() {
        let output = json!({"output": "audience", "audience": {"items": ["i1", "i2"], "size": 50}});
        let record = trained(making("container", output), ResourceKind::TrainingJob);
        let ResourceSpec::ProcessingJob(spec) = &stages(&ctx(&record), Phase::Score).unwrap()[0][0] else {
            panic!()
        };
        assert_eq!(spec.arguments, ["audience", "--num-results", "50"]);
        let names: Vec<&str> = spec.inputs.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["model", "items", "users"]);
        assert_eq!(spec.inputs[2].s3_uri, "s3://results/jobs/spring-1/input/users/");

        let mut record = making(
            "container",
            json!({"output": "audience", "audience": {"item_filter": {"CATEGORY": ["coat"]}, "min_score": 0.25}}),
        );
        let mut form = record.form.take().unwrap();
        form.dataset.items = Some("s3://data/items.csv".into());
        record.form = Some(form);
        let record = trained(record, ResourceKind::TrainingJob);
        let ResourceSpec::ProcessingJob(spec) = &stages(&ctx(&record), Phase::Score).unwrap()[0][0] else {
            panic!()
        };
        // Cut by score: every candidate of the segment (2 users) may be kept.
        assert_eq!(
            spec.arguments,
            ["audience", "--num-results", "2", "--min-score", "0.25"]
        );
        let catalog = spec.inputs.last().unwrap();
        assert_eq!(
            (catalog.s3_uri.as_str(), catalog.local_path.as_str()),
            ("s3://data/items.csv", CATALOG_PATH)
        );
    }

    #[test]
    fn an_audience_on_personalize_is_a_batch_segment_job_on_the_item_lines() {
        let output = json!({"output": "audience", "audience": {"items": ["i1"], "size": 50},
                            "personalize": {"recipe": "aws-item-affinity"}});
        let mut record = making("personalize", output);
        assert!(
            stages(&ctx(&record), Phase::Score).is_err(),
            "needs its solution version"
        );
        record = trained(record, ResourceKind::SolutionVersion);
        let ResourceSpec::BatchSegmentJob {
            name,
            input,
            output,
            num_results,
            tags,
            ..
        } = &stages(&ctx(&record), Phase::Score).unwrap()[0][0]
        else {
            panic!()
        };
        assert_eq!(name, &job_resource_name(&record.job_id, Phase::Score, None, 1));
        assert_eq!(
            (input.as_str(), output.as_str()),
            (ITEMS, "s3://results/jobs/spring-1/scores/")
        );
        // The users file's users are applied at delivery: Personalize is asked for all of its.
        assert_eq!(*num_results, MAX_SEGMENT_USERS);
        assert_eq!(tags.len(), 3);
        let trained_with = stages(&ctx(&record), Phase::Train).unwrap();
        let ResourceSpec::Solution { recipe, .. } = &trained_with[0][0] else {
            panic!()
        };
        assert_eq!(recipe, "aws-item-affinity");
    }
}
