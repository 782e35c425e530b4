"""End-to-end (issue 6, acceptance 2 and 3): jobs over quota wait quietly and then run.

- Six container forms dropped at once with the emulated SageMaker training quota at 2: never
  more than 2 training jobs in progress, all six finish, those that waited show
  WAITING_FOR_QUOTA, none failed. Once with recoflow's own pool limit at 2 (it never even asks
  SageMaker for more), once with recoflow's limit above the emulator's (SageMaker refuses with
  ResourceLimitExceeded and the jobs still complete).
- Launches throttled by the emulator still complete; a training job failed by an injected
  internal error is relaunched (attempt 2) and the job completes, the record listing both.

Each scenario uses an instance type of its own, so its quota pools (recoflow's and the
emulator's, both per instance type) are its own.
"""

import threading


from e2e_helpers import assert_finished_ok, resources_of, run_concurrently, statuses

SIX = 6


class InProgressSampler:
    """Samples ListTrainingJobs(StatusEquals=InProgress), following NextToken to the end (the
    emulator pages like AWS: a page may be short or empty while NextToken is set)."""

    def __init__(self, recoflow, interval=0.25):
        self.recoflow = recoflow
        self.interval = interval
        self.samples = []  # sets of job names in progress
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error = None

    def _run(self):
        while not self._stop.is_set():
            try:
                names = {j["TrainingJobName"] for j in self.recoflow.training_jobs(StatusEquals="InProgress")}
                self.samples.append(names)
            except Exception as exc:  # noqa: BLE001 - reported by stop()
                self.error = exc
                return
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)

    def counts(self, names: set) -> list:
        return [len(sample & names) for sample in self.samples]


def drop_six_at_once(recoflow, forms) -> list:
    """Puts the forms in the forms bucket at the same moment; their job ids."""
    barrier = threading.Barrier(len(forms))

    def drop(form):
        barrier.wait()
        return recoflow.drop_form(form)

    keys = run_concurrently(*[lambda f=f: drop(f) for f in forms])
    return [recoflow.job_id_for_key(key) for key in keys]


# Two scenarios, run at once (each in a quota pool of its own), the emulator's training quota at 2:
SCENARIOS = {
    # recoflow's own pool limit is the service's: recoflow alone keeps the jobs waiting.
    "recoflow-limit-2": ("ml.c5.xlarge", 2),
    # recoflow's limit is above the service's quota: SageMaker refuses (ResourceLimitExceeded).
    "recoflow-limit-above-service-quota": ("ml.c5.2xlarge", 6),
}


def run_six(recoflow, container_form, instance_type) -> list:
    forms = [container_form(instance_type=instance_type) for _ in range(SIX)]
    job_ids = drop_six_at_once(recoflow, forms)
    return run_concurrently(*[lambda j=j: recoflow.wait_ended(j, timeout=240) for j in job_ids])


def check_six(recoflow, slack, sampler, scenario, instance_type, recoflow_limit, ended):
    # Every acquire and release is one conditional write: once all six are done the pools are
    # empty again, their counts exact.
    pools = recoflow.quota_pools()
    for kind in ("training", "processing"):
        pool = pools.get(f"sagemaker-{kind}:{instance_type}")
        assert pool and (pool["used"], pool["holders"]) == (0, {}), f"{scenario}: the quota count drifted: {pool}"

    for job, execution in ended:
        assert_finished_ok(job, execution)
        assert all(r["state"] == "SUCCEEDED" for r in job["resources"]), job["resources"]
        assert len(resources_of(job, "training-job")) == 1, job["resources"]
        assert recoflow.holders_of(job["job_id"]) == {}
        # Waiting for quota is not a failure: Slack hears nothing of it (issue 8).
        assert slack.about(job["job_id"]) == [] and job.get("notification") is None, job["job_id"]

    ours = {r["name"] for job, _ in ended for r in resources_of(job, "training-job")}
    counts = sampler.counts(ours)
    assert len(counts) >= 10, f"{scenario}: only {len(counts)} samples"
    assert max(counts) <= 2, f"{scenario}: more than 2 training jobs in progress at once: {counts}"
    assert max(counts) == 2, f"{scenario}: the quota of 2 was never used in full: {counts}"

    # Who waited: the executions say it (a WaitForQuota state, or a LaunchRefused step), the
    # records must show it.
    waited, refused = set(), set()
    for job, _ in ended:
        errors = recoflow.task_errors(job["job_id"])
        if "LaunchRefused" in errors or "WaitForQuota" in recoflow.states_entered(job["job_id"]):
            waited.add(job["job_id"])
        if "LaunchRefused" in errors:
            refused.add(job["job_id"])
        if "WAITING_FOR_QUOTA" in statuses(job):
            assert job["job_id"] in waited, f"{job['job_id']} shows WAITING_FOR_QUOTA but never waited"
    for job, _ in ended:
        if job["job_id"] in waited:
            assert "WAITING_FOR_QUOTA" in statuses(job), f"{job['job_id']} waited but its history hides it: {statuses(job)}"
    assert len(waited) >= SIX - 2 - 1, f"{scenario}: with 2 slots for 6 jobs dropped at once, only {len(waited)} waited"

    waits = [h for job, _ in ended for h in job["history"] if h["status"] == "WAITING_FOR_QUOTA"]
    if recoflow_limit <= 2:
        # recoflow kept to its own limit: SageMaker never had to refuse a launch.
        assert refused == set(), f"{scenario}: SageMaker refused launches of {refused} although recoflow's limit is the service's"
        assert any(f"waiting for quota in sagemaker-training:{instance_type}" in (h.get("detail") or "") for h in waits), waits
    else:
        # recoflow's limit let more through than SageMaker allows: refused, waited, completed.
        assert refused, f"{scenario}: SageMaker never refused a launch: the scenario did not test what it should"
        assert any("ResourceLimitExceeded" in (h.get("detail") or "") for h in waits), waits


def test_six_jobs_over_a_training_quota_of_two_wait_and_all_finish(recoflow, faults, quota_limits, container_form, slack):
    faults.set({"limits": {"sagemaker": {"training": {t: 2 for t, _ in SCENARIOS.values()}}}})
    quota_limits.set({f"sagemaker-training:{t}": limit for t, limit in SCENARIOS.values()})

    with InProgressSampler(recoflow) as sampler:
        results = run_concurrently(*[lambda t=t: run_six(recoflow, container_form, t) for t, _ in SCENARIOS.values()])
    assert sampler.error is None, f"ListTrainingJobs failed while sampling: {sampler.error!r}"

    for (scenario, (instance_type, limit)), ended in zip(SCENARIOS.items(), results):
        check_six(recoflow, slack, sampler, scenario, instance_type, limit, ended)


def test_throttled_launches_still_complete(recoflow, faults, container_form):
    # Every launch refused with ThrottlingException for a while (the SDK's own retries used up)...
    faults.set({"throttle": {"sagemaker": {"rate": 1.0, "operations": ["CreateTrainingJob", "CreateProcessingJob"]}}})
    job_id = recoflow.submit(container_form(instance_type="ml.c5.4xlarge"))
    job = recoflow.wait_job(job_id, "waiting after a throttled launch", lambda j: j["status"] == "WAITING_FOR_QUOTA", timeout=60)
    detail = job["history"][-1].get("detail") or ""
    assert "Throttling" in detail or "Rate exceeded" in detail, job["history"][-1]
    assert not recoflow.training_jobs(NameContains=job_id), "a refused launch created nothing"
    # ...then half of them: the job gets through and completes.
    faults.set({"throttle": {"sagemaker": {"rate": 0.5}}})
    job, execution = recoflow.wait_ended(job_id, timeout=180)
    assert_finished_ok(job, execution)
    assert "WAITING_FOR_QUOTA" in statuses(job)
    assert [r["kind"] for r in job["resources"] if r["state"] == "SUCCEEDED"].count("training-job") == 1
    assert len(recoflow.training_jobs(NameContains=job_id)) == 1, "one training job, however many refusals"
    assert len(recoflow.processing_jobs(NameContains=job_id)) == 1
    assert recoflow.holders_of(job_id) == {}


def test_a_training_job_failed_by_an_internal_error_is_relaunched(recoflow, faults, container_form):
    faults.set({"fail_next": {"sagemaker": 1}})
    job_id = recoflow.submit(container_form(instance_type="ml.m5.xlarge"))
    job, execution = recoflow.wait_ended(job_id, timeout=120)
    assert_finished_ok(job, execution)

    trainings = sorted(resources_of(job, "training-job"), key=lambda r: r["attempt"])
    assert [(r["attempt"], r["state"]) for r in trainings] == [(1, "FAILED"), (2, "SUCCEEDED")], job["resources"]
    first, second = trainings
    assert first["name"].endswith("-train-1") and second["name"].endswith("-train-2")
    assert first["platform_failure"] is True
    assert first["reason"].startswith("InternalServerError: Injected failure"), first
    assert not second.get("platform_failure")
    sagemaker = recoflow.aws("sagemaker")
    failed = sagemaker.describe_training_job(TrainingJobName=first["name"])
    assert failed["TrainingJobStatus"] == "Failed" and failed["FailureReason"] == first["reason"]
    assert sagemaker.describe_training_job(TrainingJobName=second["name"])["TrainingJobStatus"] == "Completed"
    # Scoring used the model of the attempt that succeeded.
    scoring = sagemaker.describe_processing_job(ProcessingJobName=resources_of(job, "processing-job")[0]["name"])
    model_input = next(i for i in scoring["ProcessingInputs"] if i["InputName"] == "model")
    assert second["name"] in model_input["S3Input"]["S3Uri"]
    assert recoflow.sagemaker_tags(second["arn"])["recoflow:job-id"] == job_id
    assert faults.get()["fail_next"]["sagemaker"] == 0
