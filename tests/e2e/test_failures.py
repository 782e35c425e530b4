"""End-to-end (issue 6, acceptance 4 and 7): jobs that cannot succeed fail once, clearly, and
give their quota back.

- A training container that fails ends the job FAILED with the container's own reason; its
  slot is free at once: a following job in the same pool (limit 1) runs without waiting.
- A segment that matches nobody fails the job in PREPARING, before anything is launched.
"""

import uuid

from e2e_helpers import EXAMPLE_DATA, assert_finished_ok, resources_of, run_concurrently, statuses, wait_for


def upload_broken_interactions(recoflow) -> str:
    """interactions.csv with a TIMESTAMP that is not a number: the headers are right (Prepare
    only reads those), the reference container fails on the rows."""
    lines = (EXAMPLE_DATA / "interactions.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    assert header.split(",")[2] == "TIMESTAMP"
    broken = [header] + [",".join(r.split(",")[:2] + ["yesterday"] + r.split(",")[3:]) for r in rows[:50]] + rows[50:]
    key = f"e2e/broken-{uuid.uuid4().hex[:8]}/interactions.csv"
    recoflow.aws("s3").put_object(Bucket=recoflow.stack["DataBucket"], Key=key, Body=("\n".join(broken) + "\n").encode())
    return f"s3://{recoflow.stack['DataBucket']}/{key}"


def test_a_failing_training_container_fails_the_job_with_its_reason_and_frees_its_slot_at_once(
    recoflow, quota_limits, container_form, slack
):
    instance_type = "ml.m5.2xlarge"
    # One slot: had the failed job kept it, the next job would wait for its lease (20 s).
    quota_limits.set({f"sagemaker-training:{instance_type}": 1})
    broken = container_form(instance_type=instance_type)
    broken["dataset"]["interactions"] = upload_broken_interactions(recoflow)

    job_id = recoflow.submit(broken)
    job, execution = recoflow.wait_ended(job_id, timeout=120)
    assert execution == "FAILED"
    assert job["status"] == "FAILED", statuses(job)
    # The slot is free as soon as the job shows FAILED.
    assert recoflow.holders_of(job_id) == {}, "the failed job still holds quota"
    assert statuses(job)[-2:] == ["TRAINING", "FAILED"], statuses(job)

    trainings = resources_of(job, "training-job")
    assert len(trainings) == 1, f"a container's own failure is not relaunched: {job['resources']}"
    training = trainings[0]
    described = recoflow.aws("sagemaker").describe_training_job(TrainingJobName=training["name"])
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("AlgorithmError"), reason
    assert training["state"] == "FAILED" and training["reason"] == reason, training
    assert not training.get("platform_failure"), training
    assert resources_of(job, "processing-job") == [], "nothing is scored after a failed training"

    failure = job["failure"]
    assert failure["error"] == "TrainingFailed", failure
    assert (failure["status"], failure["state"]) == ("TRAINING", "RunPhases"), failure
    assert reason in failure["cause"], f"the cause should carry the container's reason {reason!r}: {failure}"

    # Slack heard of it once, with what a reader needs to act (issue 8).
    notified = recoflow.wait_notified(job_id, timeout=30)
    assert notified["notification"]["state"] == "DELIVERED", notified["notification"]
    assert notified["notification"]["attempts"] == 1
    (message,) = slack.about(job_id)
    text = message["body"]["text"]
    # The container failed on the data (a broken CSV column): the reader should look there first.
    for needed in (job_id, "TRAINING", "TrainingFailed", "[input/data]", "AlgorithmError", "TIMESTAMP"):
        assert needed in text, f"{needed!r} missing from {text!r}"
    urls = [e["url"] for b in message["body"]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert any("console.aws.amazon.com/states" in u and job_id in u for u in urls), urls
    assert any(u.endswith(f"/jobs/{job_id}") for u in urls), urls

    # The next job in the one-slot pool runs at once.
    follower = recoflow.submit(container_form(instance_type=instance_type))
    job, execution = recoflow.wait_ended(follower, timeout=120)
    assert_finished_ok(job, execution)
    assert "WAITING_FOR_QUOTA" not in statuses(job), f"the failed job's slot was not free: {job['history']}"


def test_a_failed_personalize_import_fails_the_job_with_its_reason_and_the_record_stays_true(
    recoflow, faults, personalize_form
):
    # The first Personalize job to start (one of the three imports) fails.
    faults.set({"fail_next": {"personalize": 1}})
    job_id = recoflow.submit(personalize_form())
    job, execution = recoflow.wait_ended(job_id, timeout=120)
    assert execution == "FAILED"
    assert job["status"] == "FAILED" and statuses(job)[-2:] == ["IMPORTING", "FAILED"], statuses(job)
    assert recoflow.holders_of(job_id) == {}, "the failed job still holds quota"

    personalize = recoflow.aws("personalize")
    imports = resources_of(job, "dataset-import-job")
    described = {
        r["name"]: personalize.describe_dataset_import_job(datasetImportJobArn=r["arn"])["datasetImportJob"] for r in imports
    }
    failed = [name for name, d in described.items() if d["status"] == "CREATE FAILED"]
    assert len(failed) == 1, described
    reason = described[failed[0]]["failureReason"]
    assert job["failure"]["error"] == "ImportFailed", job["failure"]
    assert (job["failure"]["status"], job["failure"]["state"]) == ("IMPORTING", "RunPhases"), job["failure"]
    assert reason in job["failure"]["cause"], job["failure"]
    assert resources_of(job, "solution-version") == [] and resources_of(job, "batch-inference-job") == []

    # Import jobs cannot be stopped (the README says so too): the record must not claim they
    # were; what it says of each is what Personalize said when it last looked.
    wait_for(
        "the other imports to end",
        lambda: all(
            personalize.describe_dataset_import_job(datasetImportJobArn=r["arn"])["datasetImportJob"]["status"]
            in ("ACTIVE", "CREATE FAILED")
            for r in imports
        ),
        timeout=30,
    )
    for resource in imports:
        assert resource["state"] != "STOPPED", (
            f"{resource['name']} is recorded {resource['state']} ({resource.get('reason')}) but Personalize cannot stop "
            f"an import; it is {described[resource['name']]['status']}"
        )
        if resource["name"] in failed:
            assert resource["state"] == "FAILED" and resource["reason"] == reason, resource


def test_a_segment_matching_nobody_fails_before_anything_is_launched(recoflow, container_form, personalize_form, slack):
    def run(form):
        job_id = recoflow.submit(form)
        return recoflow.wait_ended(job_id, timeout=60)

    nobody = {"gender": ["F"], "region": ["atlantis"]}
    ended = run_concurrently(
        lambda: run(container_form(segment=nobody)),
        lambda: run(personalize_form(segment={"age": {"min": 120, "max": 130}})),
    )
    for (job, execution), words in zip(ended, ["region atlantis", "age 120-130"]):
        assert execution == "FAILED"
        assert job["status"] == "FAILED"
        assert statuses(job) == ["RECEIVED", "QUEUED", "PREPARING", "FAILED"], statuses(job)
        assert job["failure"]["error"] == "SegmentEmpty", job["failure"]
        assert (job["failure"]["status"], job["failure"]["state"]) == ("PREPARING", "Prepare"), job["failure"]
        assert words in job["failure"]["cause"], f"the reason should name the segment: {job['failure']}"
        assert job["resources"] == []
        assert recoflow.holders_of(job["job_id"]) == {}
        assert recoflow.training_jobs(NameContains=job["job_id"]) == []
        assert recoflow.processing_jobs(NameContains=job["job_id"]) == []
        errors = recoflow.task_errors(job["job_id"])
        assert "QuotaUnavailable" not in errors and "LaunchRefused" not in errors
        # One message, telling the reader to look at the input first.
        recoflow.wait_notified(job["job_id"], timeout=30)
        messages = slack.about(job["job_id"])
        assert len(messages) <= 1, messages
        if messages:  # else folded with other failures of this cause (test_slack.py)
            assert "[input/data]" in messages[0]["body"]["text"], messages[0]["body"]["text"]
    personalize_job = ended[1][0]
    group = f"rf-{personalize_job['form']['result_set']}"
    groups = recoflow.personalize_list("list_dataset_groups", "datasetGroups")
    assert group not in {g["name"] for g in groups}, "no Personalize resource for an empty segment"
