"""End-to-end (issue 6, acceptance 6): a rerun never duplicates what a job launched.

- The same form again (the same job id: a duplicate S3 event, the same Idempotency-Key and form
  on POST /jobs), during the run and after it, and a phase step run twice more by hand (as a
  retried Step Functions task would): still one execution, one training job, one processing
  job, one set of Personalize imports, one solution version, one batch inference job.
- A second job of the same result set reuses its Personalize dataset group, datasets and
  solution (one of each in the List calls), and trains a new solution version.
"""

import uuid

from e2e_helpers import assert_finished_ok, resources_of, run_concurrently, statuses


def deliver_again(recoflow, key: str, job_id: str):
    body, error = recoflow.invoke(recoflow.stack["IntakeFunctionName"], recoflow.s3_event(key))
    assert error is None, body
    assert body == [{"outcome": "duplicate", "job_id": job_id}], body


def advance_by_hand(recoflow, job_id: str, phase: str, times: int = 2):
    """The runner's Advance step for the phase, `times` at once, besides the execution's own."""
    payload = {"action": "advance", "job_id": job_id, "phase": phase}
    results = run_concurrently(*[lambda: recoflow.invoke(recoflow.stack["RunnerFunctionName"], payload)] * times)
    for body, error in results:
        # A look that finds the job moved on (or waiting) is fine; a second launch is not.
        assert error in (None, "LaunchRefused", "IllegalTransition"), body


def name_prefix(resource: dict) -> str:
    """rf-<job>-<hash>-<phase>: what every attempt of this job's phase is named with."""
    return resource["name"].rsplit("-", 1)[0]


def test_a_rerun_of_the_same_container_form_launches_nothing_twice(recoflow, faults, container_form):
    # Launches refused (throttled) until several Advance steps are ready to race for the one
    # training job: the first creates it, the others must adopt it.
    faults.set({"throttle": {"sagemaker": {"rate": 1.0, "operations": ["CreateTrainingJob"]}}})
    form = container_form(instance_type="ml.m5.xlarge")
    key = recoflow.drop_form(form)
    job_id = recoflow.job_id_for_key(key)
    recoflow.wait_job(job_id, "a refused launch", lambda j: j["status"] == "WAITING_FOR_QUOTA", timeout=60)
    faults.set({"throttle": {"sagemaker": {"rate": 0.0}}})
    advance_by_hand(recoflow, job_id, "train", times=3)
    recoflow.wait_job(
        job_id,
        "training job running",
        lambda j: any(r["state"] in ("RUNNING", "SUCCEEDED") for r in resources_of(j, "training-job")),
        timeout=60,
    )
    deliver_again(recoflow, key, job_id)

    job, execution = recoflow.wait_ended(job_id, timeout=120)
    assert_finished_ok(job, execution)
    deliver_again(recoflow, key, job_id)

    assert len(recoflow.executions_named(job_id)) == 1
    (training,) = resources_of(job, "training-job")
    (processing,) = resources_of(job, "processing-job")
    assert [j["TrainingJobName"] for j in recoflow.training_jobs(NameContains=name_prefix(training))] == [training["name"]]
    assert [j["ProcessingJobName"] for j in recoflow.processing_jobs(NameContains=name_prefix(processing))] == [processing["name"]]
    assert recoflow.job(job_id)["resources"] == job["resources"], "the duplicate event changed the record"


def test_a_rerun_of_the_same_personalize_form_launches_nothing_twice(recoflow, faults, personalize_form):
    # As above: the imports, then the solution version, refused until Advance steps race.
    faults.set({"throttle": {"personalize": {"rate": 1.0, "operations": ["CreateDatasetImportJob", "CreateSolutionVersion"]}}})
    form, key = personalize_form(), uuid.uuid4().hex
    job_id = recoflow.submit(form, key=key)
    recoflow.wait_job(job_id, "refused imports", lambda j: j["status"] == "WAITING_FOR_QUOTA", timeout=60)
    assert faults.set({"throttle": {"personalize": {"operations": ["CreateSolutionVersion"]}}})["throttle"]["personalize"]["operations"] == [
        "CreateSolutionVersion"
    ]
    advance_by_hand(recoflow, job_id, "import", times=3)
    replay = recoflow.api.post_job(form, key=key)
    assert replay.status_code == 200 and replay.json()["job_id"] == job_id, replay.text
    recoflow.wait_job(
        job_id,
        "a refused solution version",
        lambda j: j["status"] == "WAITING_FOR_QUOTA" and "TRAINING" in statuses(j),
        timeout=90,
    )
    faults.set({"throttle": {"personalize": {"rate": 0.0}}})
    advance_by_hand(recoflow, job_id, "train", times=3)

    job, execution = recoflow.wait_ended(job_id, timeout=150)
    assert_finished_ok(job, execution)
    replay = recoflow.api.post_job(form, key=key)
    assert replay.status_code == 200 and replay.json()["job_id"] == job_id, replay.text
    assert len(recoflow.executions_named(job_id)) == 1

    group = resources_of(job, "dataset-group")[0]["arn"]
    (solution,) = resources_of(job, "solution")
    imports = [
        j
        for d in recoflow.personalize_list("list_datasets", "datasets", datasetGroupArn=group)
        for j in recoflow.personalize_list("list_dataset_import_jobs", "datasetImportJobs", datasetArn=d["datasetArn"])
    ]
    assert sorted(j["jobName"] for j in imports) == sorted(r["name"] for r in resources_of(job, "dataset-import-job"))
    versions = recoflow.personalize_list("list_solution_versions", "solutionVersions", solutionArn=solution["arn"])
    assert [v["solutionVersionArn"] for v in versions] == [resources_of(job, "solution-version")[0]["arn"]]
    batches = recoflow.personalize_list(
        "list_batch_inference_jobs", "batchInferenceJobs", solutionVersionArn=versions[0]["solutionVersionArn"]
    )
    assert [b["jobName"] for b in batches] == [resources_of(job, "batch-inference-job")[0]["name"]]


def test_a_second_job_of_the_same_result_set_reuses_its_personalize_resources(recoflow, personalize_form):
    first = personalize_form()
    second = personalize_form(result_set=first["result_set"], segment={"gender": ["M"]})
    jobs = []
    for form in (first, second):
        job, execution = recoflow.wait_ended(recoflow.submit(form), timeout=150)
        assert_finished_ok(job, execution)
        jobs.append(job)

    # One dataset group per schema generation (rf-<result set>-g<hash of the schemas>): both jobs
    # read files with the same columns, so they share one.
    prefix = f"rf-{first['result_set']}-g"
    groups = [g for g in recoflow.personalize_list("list_dataset_groups", "datasetGroups") if g["name"].startswith(prefix)]
    assert len(groups) == 1, groups
    group = groups[0]["datasetGroupArn"]
    datasets = recoflow.personalize_list("list_datasets", "datasets", datasetGroupArn=group)
    assert sorted(d["datasetType"] for d in datasets) == ["INTERACTIONS", "ITEMS", "USERS"], datasets
    solutions = recoflow.personalize_list("list_solutions", "solutions", datasetGroupArn=group)
    assert len(solutions) == 1, solutions
    versions = recoflow.personalize_list("list_solution_versions", "solutionVersions", solutionArn=solutions[0]["solutionArn"])
    assert sorted(v["solutionVersionArn"] for v in versions) == sorted(
        resources_of(job, "solution-version")[0]["arn"] for job in jobs
    ), "one new solution version per job"
    for dataset in datasets:
        imports = recoflow.personalize_list("list_dataset_import_jobs", "datasetImportJobs", datasetArn=dataset["datasetArn"])
        assert len(imports) == 2, f"one import per job into {dataset['datasetArn']}: {imports}"

    # Both records name the same shared resources.
    for kind in ("dataset-group", "dataset", "solution"):
        arns = [sorted(r["arn"] for r in resources_of(job, kind)) for job in jobs]
        assert arns[0] == arns[1], f"{kind}: {arns}"
    assert arns[0] == [solutions[0]["solutionArn"]]
    assert resources_of(jobs[0], "dataset-group")[0]["arn"] == group
