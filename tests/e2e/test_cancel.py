"""End-to-end (issue 6, acceptance 5): no execution may end with a slot still held or a job
still shown as running.

- An execution stopped from outside (Step Functions StopExecution) leaves no slot held once its
  lease expires (sooner through the execution-stopped rule, which also closes the job); a slot
  leaked by an execution that died without its clean-up is reclaimed once its lease ends.
- DELETE /jobs/{id} frees the job's slot at once, marks it CANCELLED with who and when, stops
  its execution and the SageMaker job it started (Stopping, then Stopped).
- Cancelling a finished job, or one whose version was made current already, answers 409 and
  changes nothing; cancelling twice answers 200.
- With the clean-up event lost (the execution-stopped rule disabled), the sweep closes the job
  and frees its slot; the rule's target keeps undeliverable events in a dead-letter queue.

The training jobs here are made long (emulated duration) so they are still running when the
test stops them; each test has an instance type, hence quota pools, of its own.
"""

import calendar
import time

from e2e_helpers import (
    FINAL_STATUSES,
    RUNNING_STATUSES,
    assert_finished_ok,
    resources_of,
    statuses,
    wait_for,
)

LONG_TRAINING = {"durations": {"sagemaker": 15.0}}
# SlotLeaseSeconds on the local stack (scripts/deploy-local.sh).
LEASE_SECONDS = 20


def start_long_training(recoflow, faults, form) -> tuple[str, dict]:
    """Submits the form with long SageMaker jobs and waits until its training job runs; the
    job id and its record then. Later SageMaker jobs are short again."""
    faults.set(LONG_TRAINING)
    job_id = recoflow.submit(form)
    job = recoflow.wait_job(
        job_id,
        "training job running",
        lambda j: j["status"] == "TRAINING" and any(r["state"] == "RUNNING" for r in resources_of(j, "training-job")),
        timeout=60,
    )
    faults.set({"durations": faults.baseline["durations"]})
    return job_id, job


def training_status(recoflow, name: str) -> str:
    return recoflow.aws("sagemaker").describe_training_job(TrainingJobName=name)["TrainingJobStatus"]


def test_an_execution_stopped_from_outside_leaves_no_slot_held_and_no_job_running(
    recoflow, faults, quota_limits, container_form
):
    instance_type = "ml.r5.large"
    pool = f"sagemaker-training:{instance_type}"
    quota_limits.set({pool: 1})
    job_id, job = start_long_training(recoflow, faults, container_form(instance_type=instance_type))
    (holder,) = recoflow.holders_of(job_id).values()
    training = resources_of(job, "training-job")[0]["name"]

    recoflow.aws("stepfunctions").stop_execution(
        executionArn=job["execution_arn"], error="E2E.Stopped", cause="stopped from outside by the e2e suite"
    )
    stopped_at = time.time()
    wait_for("the execution to end", lambda: recoflow.execution_status(job_id) != "RUNNING", timeout=15)

    # The slot: released by the clean-up, or at the latest reclaimable once the lease is over.
    wait_for(
        "the slot to be released or its lease to expire",
        lambda: not recoflow.holders_of(job_id) or time.time() > float(holder["expires_at"]) + 1,
        timeout=LEASE_SECONDS + 10,
    )
    # A job in the same one-slot pool gets it (reclaiming it if the lease had to expire).
    follower = recoflow.submit(container_form(instance_type=instance_type))
    follower_job, execution = recoflow.wait_ended(follower, timeout=120)
    assert_finished_ok(follower_job, execution)
    assert recoflow.holders_of(job_id) == {}, "the stopped job's slot is still held"

    # The stopped job is not shown as running (the execution-stopped rule's clean-up marks it
    # FAILED with ExecutionStopped), and its training job was stopped.
    remaining = max(5.0, 15 - (time.time() - stopped_at))
    job = recoflow.wait_job(
        job_id,
        f"not shown running after its execution ended {recoflow.execution_status(job_id)}",
        lambda j: j["status"] not in RUNNING_STATUSES,
        timeout=remaining,
    )
    assert job["status"] == "FAILED", statuses(job)
    assert job["failure"]["error"] == "ExecutionStopped", job["failure"]
    assert job["failure"]["status"] == "TRAINING", job["failure"]
    assert "state" not in job["failure"], "stopped from outside: no state-machine Catch took it"
    assert training_status(recoflow, training) in {"Stopping", "Stopped"}


def test_delete_frees_the_slot_at_once_stops_the_training_job_and_a_second_delete_answers_200(
    recoflow, faults, quota_limits, container_form
):
    instance_type = "ml.r5.xlarge"
    pool = f"sagemaker-training:{instance_type}"
    quota_limits.set({pool: 1})
    job_id, job = start_long_training(recoflow, faults, container_form(instance_type=instance_type))
    training = resources_of(job, "training-job")[0]["name"]
    assert list(recoflow.holders_of(job_id)) == [f"{pool}/{job_id}#train"]

    response = recoflow.api.http.delete(f"{recoflow.api.base}/jobs/{job_id}", timeout=30)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "CANCELLED"
    assert body["released_pools"] == [pool], body
    assert body["stopping"] == [training], body
    # At once: the answer came after the slot was given back.
    assert recoflow.holders_of(job_id) == {}, "DELETE did not free the slot at once"

    cancelled = recoflow.job(job_id)
    assert cancelled["status"] == "CANCELLED"
    assert statuses(cancelled)[-1] == "CANCELLED"
    assert cancelled["cancellation"]["by"] and cancelled["cancellation"]["at"], cancelled.get("cancellation")
    wait_for("the execution to stop", lambda: recoflow.execution_status(job_id) != "RUNNING", timeout=15)

    # Cancelling again: 200 with the job as it is, nothing changed.
    again = recoflow.api.http.delete(f"{recoflow.api.base}/jobs/{job_id}", timeout=30)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "CANCELLED"
    assert again.json()["cancellation"] == cancelled["cancellation"]
    assert recoflow.job(job_id)["history"] == cancelled["history"]

    # The SageMaker job it started is stopped (it stays Stopping a few seconds, then Stopped).
    wait_for(
        f"training job {training} to be stopped",
        lambda: training_status(recoflow, training) in {"Stopping", "Stopped"},
        timeout=15,
    )
    wait_for(
        "the record to show the training job stopped",
        lambda: resources_of(recoflow.job(job_id), "training-job")[0]["state"] == "STOPPED",
        timeout=15,
    )
    assert recoflow.job(job_id)["status"] == "CANCELLED"


def test_cancelling_a_finished_job_answers_409_and_changes_nothing(recoflow, container_form):
    def delete(job_id):
        return recoflow.api.http.delete(f"{recoflow.api.base}/jobs/{job_id}", timeout=30)

    failed = recoflow.submit(container_form(segment={"region": ["atlantis"]}))
    done = recoflow.submit(container_form(instance_type="ml.m5.4xlarge"))
    failed_job, _ = recoflow.wait_ended(failed, timeout=60)
    assert failed_job["status"] == "FAILED"
    response = delete(failed)
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "JobFinished"
    assert recoflow.job(failed) == failed_job, "a refused cancel changed the job"

    done_job, execution = recoflow.wait_ended(done, timeout=120)
    assert_finished_ok(done_job, execution)
    assert done_job["status"] in FINAL_STATUSES
    response = delete(done)
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "JobFinished"
    assert recoflow.job(done) == done_job, "a refused cancel changed the job"

    # Its version was made current in one transaction with a mark on the job: a cancel that
    # arrives after it, while the job is still DELIVERING, is refused. A copy of the record,
    # DELIVERING again under an id of its own, stands for that moment.
    assert done_job["status"] == "SUCCEEDED", done_job
    dynamodb, table = recoflow.aws("dynamodb"), recoflow.stack["JobsTable"]
    item = dynamodb.get_item(TableName=table, Key={"job_id": {"S": done}}, ConsistentRead=True)["Item"]
    assert item["made_current"] == {"S": done_job["delivery"]["version"]}
    copy = f"{done}-publishing"
    item.update(job_id={"S": copy}, status={"S": "DELIVERING"})
    dynamodb.put_item(TableName=table, Item=item)
    try:
        before = recoflow.job(copy)
        response = delete(copy)
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "JobFinished" and "current" in error["message"], error
        assert recoflow.job(copy) == before, "a refused cancel changed the job"
    finally:
        dynamodb.delete_item(TableName=table, Key={"job_id": {"S": copy}})


def test_a_slot_leaked_by_an_execution_that_died_is_reclaimed_when_its_lease_ends(
    recoflow, quota_limits, container_form
):
    """A holder no clean-up will ever release (its execution died without its Catch): the next
    job in the pool waits for quota until the holder's lease is over, then reclaims the slot."""
    instance_type = "ml.g4dn.xlarge"
    pool = f"sagemaker-training:{instance_type}"
    quota_limits.set({pool: 1})
    ghost = f"ghost-{int(time.time())}"
    expires_at = int(time.time()) + 12
    holder = {
        "job_id": {"S": ghost},
        "phase": {"S": "train"},
        "units": {"N": "1"},
        "expires_at": {"N": str(expires_at)},
        "resource_prefix": {"S": f"rf-{ghost}-train"},
    }
    recoflow.aws("dynamodb").put_item(
        TableName=recoflow.stack["QuotaTable"],
        Item={"pool": {"S": pool}, "used": {"N": "1"}, "holders": {"M": {f"{ghost}#train": {"M": holder}}}},
        ConditionExpression="attribute_not_exists(#p)",
        ExpressionAttributeNames={"#p": "pool"},
    )

    job_id = recoflow.submit(container_form(instance_type=instance_type))
    job, execution = recoflow.wait_ended(job_id, timeout=120)
    assert_finished_ok(job, execution)
    assert "WAITING_FOR_QUOTA" in statuses(job), f"the leaked slot was not respected: {statuses(job)}"
    training_since = next(h["at"] for h in job["history"] if h["status"] == "TRAINING")
    started = calendar.timegm(time.strptime(training_since[:19], "%Y-%m-%dT%H:%M:%S"))
    assert started >= expires_at - 1, f"the slot was taken at {training_since}, before the lease ended"
    state = recoflow.quota_pools()[pool]
    assert (state["used"], state["holders"]) == (0, {}), state


def test_the_sweep_closes_a_job_whose_clean_up_event_was_lost(recoflow, faults, quota_limits, container_form):
    instance_type = "ml.r5.2xlarge"
    quota_limits.set({f"sagemaker-training:{instance_type}": 1})
    job_id, job = start_long_training(recoflow, faults, container_form(instance_type=instance_type))
    assert recoflow.holders_of(job_id), "the training slot is held"
    events = recoflow.aws("events")
    rule = recoflow.stack["ExecutionStoppedRuleName"]
    # The rule keeps what it could not deliver; the sweep is the net for what it never sent.
    (target,) = events.list_targets_by_rule(Rule=rule)["Targets"]
    assert target["DeadLetterConfig"]["Arn"].endswith(recoflow.stack["CleanupDeadLetterQueueUrl"].rsplit("/", 1)[1])
    # The clean-up event is lost: the rule has no target while the execution ends.
    events.remove_targets(Rule=rule, Ids=[target["Id"]])
    try:
        recoflow.aws("stepfunctions").stop_execution(executionArn=job["execution_arn"], cause="the e2e suite, event lost")
        wait_for("the execution to end", lambda: recoflow.execution_status(job_id) != "RUNNING", timeout=15)
        swept, error = recoflow.invoke(recoflow.stack["RunnerFunctionName"], {"action": "sweep"})
        assert error is None, swept
    finally:
        events.put_targets(Rule=rule, Targets=[target])
    # Closed by the sweep (this call, or the scheduled one just before it): the record says so.
    job = recoflow.job(job_id)
    assert job["status"] == "FAILED" and job["failure"]["error"] == "ExecutionStopped", job
    assert "found by the sweep" in job["history"][-1]["detail"], job["history"]
    assert recoflow.holders_of(job_id) == {}, "the sweep freed the slot"
