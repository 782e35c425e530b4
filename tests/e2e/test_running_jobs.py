"""End-to-end (issue 6, acceptance 1; issue 11, tags): a container job and a personalize job
each run from a form to scores in S3 on the deployed local stack, with the emulated SageMaker
(reference recsys container) and Personalize. The job record shows every phase with its time
and every resource launched; everything launched carries recoflow's tags.
"""

from datetime import datetime

from e2e_helpers import (
    assert_finished_ok,
    expected_tags,
    is_subsequence,
    resources_of,
    run_concurrently,
    segment_users,
    statuses,
)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_phases_with_times(job: dict, phases: list):
    seen = statuses(job)
    assert is_subsequence(["RECEIVED", "QUEUED", "PREPARING", *phases], seen), seen
    assert "FAILED" not in seen and "CANCELLED" not in seen, seen
    times = [parse_time(h["at"]) for h in job["history"]]
    assert times == sorted(times), f"history out of order: {job['history']}"
    for change in job["history"]:
        if change["status"] in phases:
            assert change.get("detail"), f"{change} says nothing about the phase"
    assert job["status_since"] == job["history"][-1]["at"]


def assert_scores(recoflow, job: dict):
    """Scores in s3://<ResultsBucket>/jobs/<id>/scores/ in Personalize's batch JSON lines, one
    line per user of the segment, num_results items each."""
    form = job["form"]
    expected_users = segment_users(form.get("segment"))
    lines = recoflow.score_lines(job["job_id"])
    assert lines, f"no scores under jobs/{job['job_id']}/scores/"
    scored = [line["input"]["userId"] for line in lines]
    assert sorted(scored) == sorted(expected_users), "scored users are the segment's users, once each"
    assert job["users_to_score"] == len(expected_users)
    assert job["counts"].get("users_to_score") == len(expected_users)
    # Prepare's one part (local stacks cut parts of 50,000 users), scored beside its group folder.
    assert job["counts"].get("scoring_parts") == 1, job["counts"]
    s3, bucket, prefix = recoflow.aws("s3"), recoflow.stack["ResultsBucket"], f"jobs/{job['job_id']}/"
    listed = lambda under: [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + under).get("Contents", [])]
    assert listed("input/users/") == [prefix + "input/users/g0000/part-00000.jsonl"]
    assert listed("scores/") == [prefix + "scores/g0000/part-00000.jsonl.out"]
    for line in lines:
        assert line.get("error") is None, line
        items = line["output"]["recommendedItems"]
        assert len(items) == form["num_results"], line
        assert len(line["output"]["scores"]) == len(items), line


def run_container_job(recoflow, form):
    key = recoflow.drop_form(form)
    job_id = recoflow.job_id_for_key(key)
    job, execution = recoflow.wait_ended(job_id, timeout=120)
    return job, execution


def run_personalize_job(recoflow, form):
    job_id = recoflow.submit(form)
    job, execution = recoflow.wait_ended(job_id, timeout=150)
    return job, execution


def check_container_job(recoflow, job, execution):
    assert_finished_ok(job, execution)
    assert_phases_with_times(job, ["TRAINING", "SCORING"])
    assert job["source"]["kind"] == "s3"

    kinds = sorted(r["kind"] for r in job["resources"])
    assert kinds == ["processing-job", "training-job"], job["resources"]
    sagemaker = recoflow.aws("sagemaker")
    for resource in job["resources"]:
        assert resource["state"] == "SUCCEEDED", resource
        assert resource["attempt"] == 1 and resource["at"] and resource["arn"], resource
        assert resource["name"].startswith("rf-"), resource
        # What the record says is what SageMaker says.
        if resource["kind"] == "training-job":
            assert resource["phase"] == "train"
            described = sagemaker.describe_training_job(TrainingJobName=resource["name"])
            assert described["TrainingJobStatus"] == "Completed"
            assert described["TrainingJobArn"] == resource["arn"]
            assert described["ResourceConfig"]["InstanceType"] == job["form"]["container"]["instance_type"]
            assert described["AlgorithmSpecification"]["TrainingImage"] == job["form"]["container"]["training_image"]
        else:
            assert resource["phase"] == "score"
            described = sagemaker.describe_processing_job(ProcessingJobName=resource["name"])
            assert described["ProcessingJobStatus"] == "Completed"
            assert described["ProcessingJobArn"] == resource["arn"]
        assert recoflow.sagemaker_tags(resource["arn"]) == expected_tags(job), resource["name"]
    assert_scores(recoflow, job)
    assert recoflow.holders_of(job["job_id"]) == {}, "a finished job holds no quota"


def check_personalize_job(recoflow, job, execution):
    assert_finished_ok(job, execution)
    assert_phases_with_times(job, ["IMPORTING", "TRAINING", "SCORING"])
    assert job["source"]["kind"] == "api"

    by_kind = {}
    for resource in job["resources"]:
        by_kind.setdefault(resource["kind"], []).append(resource)
        assert resource["state"] == "SUCCEEDED", resource
        assert resource["at"] and resource["arn"], resource
    assert {k: len(v) for k, v in by_kind.items()} == {
        "dataset-group": 1,
        "schema": 3,
        "dataset": 3,
        "dataset-import-job": 3,
        "solution": 1,
        "solution-version": 1,
        "batch-inference-job": 1,
    }, job["resources"]
    assert {r["phase"] for r in resources_of(job, "dataset-import-job")} == {"import"}
    assert {r["phase"] for r in resources_of(job, "solution-version")} == {"train"}
    assert {r["phase"] for r in resources_of(job, "batch-inference-job")} == {"score"}

    personalize = recoflow.aws("personalize")
    version = by_kind["solution-version"][0]
    described = personalize.describe_solution_version(solutionVersionArn=version["arn"])["solutionVersion"]
    assert described["status"] == "ACTIVE"
    assert described["solutionArn"] == by_kind["solution"][0]["arn"]
    assert described["trainingMode"] == "FULL"
    solution = personalize.describe_solution(solutionArn=by_kind["solution"][0]["arn"])["solution"]
    assert solution["performHPO"] is False, "HPO only when the form asks"
    assert solution["datasetGroupArn"] == by_kind["dataset-group"][0]["arn"]
    batch = personalize.describe_batch_inference_job(batchInferenceJobArn=by_kind["batch-inference-job"][0]["arn"])["batchInferenceJob"]
    assert batch["status"] == "ACTIVE"
    assert batch["numResults"] == job["form"]["num_results"]
    # One group folder of parts in, its scores beside it.
    assert batch["jobInput"]["s3DataSource"]["path"].endswith(f"jobs/{job['job_id']}/input/users/g0000/")
    assert batch["jobOutput"]["s3DataDestination"]["path"].endswith(f"jobs/{job['job_id']}/scores/g0000/")

    # Tags: everything but schemas (CreateSchema takes none). The result set is new to this
    # test, so its shared resources (dataset group, datasets, solution) were created by this job.
    for resource in job["resources"]:
        if resource["kind"] == "schema":
            continue
        assert recoflow.personalize_tags(resource["arn"]) == expected_tags(job), resource["name"]
    assert_scores(recoflow, job)
    assert recoflow.holders_of(job["job_id"]) == {}, "a finished job holds no quota"


def test_a_container_job_and_a_personalize_job_run_from_form_to_scores(recoflow, container_form, personalize_form):
    container, personalize = container_form(), personalize_form()
    (c_job, c_execution), (p_job, p_execution) = run_concurrently(
        lambda: run_container_job(recoflow, container),
        lambda: run_personalize_job(recoflow, personalize),
    )
    check_container_job(recoflow, c_job, c_execution)
    check_personalize_job(recoflow, p_job, p_execution)
