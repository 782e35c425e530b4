"""End-to-end (issue 21, "quota slots handed over, first come first served").

- Five jobs waiting on a one-slot pool take their places in submission order (GET /jobs/{id}
  shows each its place), a `high` job submitted after them goes to the head of the queue, and
  once the job holding the slot is cancelled they train one at a time: the high one, then the
  five in submission order. Most are woken by a hand-over (their WaitForQuota state succeeds),
  not by their timed retry.
- A lost wake-up: the waiting job's task token in the queue is replaced by one nobody waits on,
  then the slot is freed. The wake-up goes nowhere; the job's WaitForQuota times out
  (QuotaWakeUpTimeoutSeconds) and its timed retry finds the slot and trains.

Each test has a training pool of its own (its own instance type, limit 1). The job holding the
slot trains long (the emulator's duration is read when a training starts); the others briefly.
"""

import calendar
import time

from e2e_helpers import assert_finished_ok, resources_of, run_concurrently, statuses, wait_for

LONG_TRAINING = {"durations": {"sagemaker": 60.0}}
SHORT_TRAINING = {"durations": {"sagemaker": 1.0}}
CALLBACK = "invoke.waitForTaskToken"


def holding_the_slot(recoflow, faults, form) -> str:
    """A job that trains for a minute in the pool's one slot; its id once it trains."""
    faults.set(LONG_TRAINING)
    blocker = recoflow.submit(form)
    recoflow.wait_job(
        blocker,
        "the first job training",
        lambda j: j["status"] == "TRAINING" and any(r["kind"] == "training-job" and r.get("arn") for r in j["resources"]),
        timeout=90,
    )
    faults.set(SHORT_TRAINING)
    return blocker


def place_of(recoflow, job_id: str):
    wait = recoflow.job(job_id).get("quota_wait")
    return wait and wait["position"]


def cancel(recoflow, job_id: str):
    response = recoflow.api.http.delete(f"{recoflow.api.base}/jobs/{job_id}", timeout=30)
    assert response.status_code == 202, response.text


def callback_outcomes(recoflow, job_id: str) -> list:
    """How each of the execution's WaitForQuota tasks ended: "woken" or "timed out"."""
    outcomes = []
    for event in recoflow.history(job_id):
        if event["type"] == "TaskSucceeded" and event["taskSucceededEventDetails"].get("resource") == CALLBACK:
            outcomes.append("woken")
        if event["type"] == "TaskTimedOut" and event["taskTimedOutEventDetails"].get("resource") == CALLBACK:
            outcomes.append("timed out")
    return outcomes


def training_since(job: dict) -> str:
    return next(h["at"] for h in job["history"] if h["status"] == "TRAINING")


def test_waiting_jobs_start_in_submission_order_and_a_high_job_submitted_last_goes_first(
    recoflow, faults, quota_limits, container_form
):
    instance_type = "ml.c5.9xlarge"
    pool = f"sagemaker-training:{instance_type}"
    quota_limits.set({pool: 1})
    blocker = holding_the_slot(recoflow, faults, container_form(instance_type=instance_type))

    normal = []
    for _ in range(5):
        normal.append(recoflow.submit(container_form(instance_type=instance_type)))
    wait_for(
        "the five jobs in the queue, in submission order",
        lambda: [place_of(recoflow, j) for j in normal] == [1, 2, 3, 4, 5] or None,
        timeout=90,
    )
    urgent = recoflow.submit(container_form(instance_type=instance_type, priority="high"))
    wait_for("the high job at the head of the queue", lambda: place_of(recoflow, urgent) == 1 or None, timeout=60)
    view = recoflow.job(normal[-1])
    assert view["status"] == "WAITING_FOR_QUOTA"
    assert view["quota_wait"] == {"pool": pool, "position": 6, "holders": 1, "waiting": 6}, view["quota_wait"]
    assert statuses(view).count("WAITING_FOR_QUOTA") == 1, view["history"]
    # Its history says where it stood when it began to wait (once, however often it asked).
    assert "in its queue (priority normal)" in view["history"][-1]["detail"], view["history"][-1]

    cancel(recoflow, blocker)
    waiting = [urgent] + normal
    ended = run_concurrently(*[lambda j=j: recoflow.wait_ended(j, timeout=300) for j in waiting])
    for job, execution in ended:
        assert_finished_ok(job, execution)
        assert statuses(job).count("WAITING_FOR_QUOTA") == 1, job["history"]
    started = sorted(ended, key=lambda e: training_since(e[0]))
    assert [job["job_id"] for job, _ in started] == waiting, [(j["job_id"], training_since(j)) for j, _ in started]

    # One training at a time: each training job was created after the one before it ended.
    sagemaker = recoflow.aws("sagemaker")
    trainings = [
        sagemaker.describe_training_job(TrainingJobName=resources_of(job, "training-job")[0]["name"])
        for job, _ in started
    ]
    for before, after in zip(trainings, trainings[1:]):
        assert after["CreationTime"] >= before["TrainingEndTime"], (before["TrainingJobName"], after["TrainingJobName"])
    woken = [j["job_id"] for j, _ in ended if "woken" in callback_outcomes(recoflow, j["job_id"])]
    assert len(woken) >= 3, f"handed over to only {woken}: the others waited for their timed retry"
    state = recoflow.quota_pools()[pool]
    assert (state["used"], state["holders"], state["waiting"]) == (0, {}, {}), state


def test_a_lost_wake_up_is_recovered_by_the_timed_retry(recoflow, faults, quota_limits, container_form):
    instance_type = "ml.c5.18xlarge"
    pool = f"sagemaker-training:{instance_type}"
    quota_limits.set({pool: 1})
    blocker = holding_the_slot(recoflow, faults, container_form(instance_type=instance_type))
    waiter = recoflow.submit(container_form(instance_type=instance_type))
    holder_id = f"{waiter}#train"

    def entry():
        return recoflow.quota_pools()[pool].get("waiting", {}).get(holder_id)

    first = wait_for("the job's place in the queue", entry, timeout=90)
    # Right after it (re)takes its place, so that its next timed retry is a whole timeout away.
    fresh = wait_for("the job taking its place again", lambda: (e := entry()) and e["parked_at"] != first["parked_at"] and e, timeout=60)
    recoflow.aws("dynamodb").update_item(
        TableName=recoflow.stack["QuotaTable"],
        Key={"pool": {"S": pool}},
        UpdateExpression="SET waiting.#h.#t = :lost",
        ConditionExpression="waiting.#h.parked_at = :parked",
        ExpressionAttributeNames={"#h": holder_id, "#t": "token"},
        ExpressionAttributeValues={":lost": {"S": "a-token-nobody-waits-on"}, ":parked": {"N": str(fresh["parked_at"])}},
    )
    freed = time.time()
    cancel(recoflow, blocker)

    job, execution = recoflow.wait_ended(waiter, timeout=180)
    assert_finished_ok(job, execution)
    outcomes = callback_outcomes(recoflow, waiter)
    assert outcomes and outcomes[-1] == "timed out", f"the wake-up was not lost: {outcomes}"
    assert "woken" not in outcomes, outcomes
    started = calendar.timegm(time.strptime(training_since(job)[:19], "%Y-%m-%dT%H:%M:%S"))
    assert started - freed < 60, f"trained {started - freed:.0f} s after the slot was freed"
    assert statuses(job).count("WAITING_FOR_QUOTA") == 1, job["history"]
    state = recoflow.quota_pools()[pool]
    assert (state["used"], state["holders"], state["waiting"]) == (0, {}, {}), state
