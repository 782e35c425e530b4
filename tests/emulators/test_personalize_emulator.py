"""Amazon Personalize emulator (localstack/extension/recoflow_localstack/personalize).

Runs against the local stack (LOCALSTACK_ENDPOINT); job durations are shortened through
/_recoflow/faults and every test restores the fault configuration it changes.
"""

import json
import random
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from emu_helpers import unique, wait_for

ROLE = "arn:aws:iam::000000000000:role/personalize"
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"
USER_PERSONALIZATION = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
INTERACTIONS_SCHEMA = json.dumps({
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": ["null", "string"]},
    ],
    "version": "1.0",
})
TERMINAL = ("ACTIVE", "CREATE FAILED")


def interactions_csv(users=60, per_user=20, items=40, seed=7) -> str:
    rnd = random.Random(seed)
    weights = [1.0 / (i + 1) for i in range(items)]  # i1 is the most popular
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"]
    for u in range(users):
        for k in range(per_user):
            item = rnd.choices(range(items), weights)[0]
            lines.append(f"u{u},i{item + 1},{1700000000 + u * 100 + k},click")
    return "\n".join(lines) + "\n"


def error_code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def active(personalize, kind: str, arn: str, key: str, timeout=20.0) -> dict:
    describe = getattr(personalize, f"describe_{kind}")
    return wait_for(lambda: describe(**{key: arn})[_camel(kind)], lambda r: r["status"] in TERMINAL, timeout)


def _camel(kind: str) -> str:
    head, *rest = kind.split("_")
    return head + "".join(p.capitalize() for p in rest)


def make_group(personalize) -> tuple[str, str]:
    """An ACTIVE dataset group with an ACTIVE interactions dataset: (group arn, dataset arn)."""
    group = personalize.create_dataset_group(name=unique("dsg"))["datasetGroupArn"]
    schema = personalize.create_schema(name=unique("schema"), schema=INTERACTIONS_SCHEMA)["schemaArn"]
    assert active(personalize, "dataset_group", group, "datasetGroupArn")["status"] == "ACTIVE"
    dataset = personalize.create_dataset(
        name=unique("interactions"), schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    assert active(personalize, "dataset", dataset, "datasetArn")["status"] == "ACTIVE"
    return group, dataset


def import_csv(personalize, s3, bucket, dataset, body: str) -> dict:
    key = f"{uuid.uuid4().hex[:6]}/interactions.csv"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    job = personalize.create_dataset_import_job(
        jobName=unique("import"), datasetArn=dataset, roleArn=ROLE,
        dataSource={"dataLocation": f"s3://{bucket}/{key}"},
    )["datasetImportJobArn"]
    return active(personalize, "dataset_import_job", job, "datasetImportJobArn")


def train(personalize, group, recipe) -> dict:
    solution = personalize.create_solution(name=unique("sol"), datasetGroupArn=group, recipeArn=recipe)["solutionArn"]
    assert active(personalize, "solution", solution, "solutionArn")["status"] == "ACTIVE"
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    return active(personalize, "solution_version", version, "solutionVersionArn")


@pytest.fixture(scope="module")
def trained(aws):
    """One dataset group with 1200 imported interactions and an ACTIVE popularity-count version."""
    personalize, s3 = aws("personalize"), aws("s3")
    bucket = unique("emu-personalize")
    s3.create_bucket(Bucket=bucket)
    group, dataset = make_group(personalize)
    job = import_csv(personalize, s3, bucket, dataset, interactions_csv())
    assert job["status"] == "ACTIVE", job
    version = train(personalize, group, POPULARITY)
    assert version["status"] == "ACTIVE", version
    return {"bucket": bucket, "group": group, "dataset": dataset, "version": version["solutionVersionArn"]}


def run_batch(personalize, s3, bucket, version, users, num_results=None, wait=True):
    key = f"batch-in/{uuid.uuid4().hex[:6]}/users.json"
    s3.put_object(Bucket=bucket, Key=key, Body="".join(json.dumps({"userId": u}) + "\n" for u in users).encode())
    out_prefix = f"batch-out/{uuid.uuid4().hex[:6]}/"
    kwargs = {}
    if num_results:
        kwargs["numResults"] = num_results
    arn = personalize.create_batch_inference_job(
        jobName=unique("batch"), solutionVersionArn=version, roleArn=ROLE,
        jobInput={"s3DataSource": {"path": f"s3://{bucket}/{key}"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{bucket}/{out_prefix}"}}, **kwargs,
    )["batchInferenceJobArn"]
    if not wait:
        return arn, None
    job = active(personalize, "batch_inference_job", arn, "batchInferenceJobArn")
    return job, f"{out_prefix}users.json.out"


def read_lines(s3, bucket, key):
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def test_import_train_batch_inference_ends_active_with_output(aws, trained):
    personalize, s3 = aws("personalize"), aws("s3")
    version = personalize.describe_solution_version(solutionVersionArn=trained["version"])["solutionVersion"]
    assert version["status"] == "ACTIVE"
    assert version["solutionVersionArn"].startswith(
        "arn:aws:personalize:us-east-1:000000000000:solution/"
    )
    job, out_key = run_batch(personalize, s3, trained["bucket"], trained["version"], ["u1", "u2", "stranger"], 5)
    assert job["status"] == "ACTIVE", job
    assert job["batchInferenceJobArn"].endswith(":batch-inference-job/" + job["jobName"])
    lines = read_lines(s3, trained["bucket"], out_key)
    assert [line["input"] for line in lines] == [{"userId": "u1"}, {"userId": "u2"}, {"userId": "stranger"}]
    for line in lines:
        assert line["error"] is None
        assert len(line["output"]["recommendedItems"]) == 5
        assert len(line["output"]["scores"]) == 5
        assert line["output"]["scores"] == sorted(line["output"]["scores"], reverse=True)
    # popularity-count: everybody gets the same list, most popular first
    assert lines[0]["output"]["recommendedItems"][0] == "i1"
    assert lines[0]["output"]["recommendedItems"] == lines[2]["output"]["recommendedItems"]


def test_batch_inference_on_a_folder_answers_each_file_in_a_file_of_its_own(aws, trained):
    # recoflow's layout: a group folder of parts, its scores under the group's folder
    personalize, s3, bucket = aws("personalize"), aws("s3"), trained["bucket"]
    folder, out_prefix = f"jobs/{uuid.uuid4().hex[:6]}/input/users/g0000/", f"scores/{uuid.uuid4().hex[:6]}/g0000/"
    parts = {"part-00000.jsonl": ["u1", "u2"], "part-00001.jsonl": ["stranger"]}
    for name, users in parts.items():
        s3.put_object(Bucket=bucket, Key=folder + name, Body="".join(json.dumps({"userId": u}) + "\n" for u in users).encode())
    arn = personalize.create_batch_inference_job(
        jobName=unique("folder"), solutionVersionArn=trained["version"], roleArn=ROLE, numResults=3,
        jobInput={"s3DataSource": {"path": f"s3://{bucket}/{folder}"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{bucket}/{out_prefix}"}},
    )["batchInferenceJobArn"]
    job = active(personalize, "batch_inference_job", arn, "batchInferenceJobArn")
    assert job["status"] == "ACTIVE", job
    written = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=out_prefix)["Contents"])
    assert written == [f"{out_prefix}{name}.out" for name in parts]
    for name, users in parts.items():
        assert [line["input"]["userId"] for line in read_lines(s3, bucket, f"{out_prefix}{name}.out")] == users


def test_user_personalization_excludes_seen_items_and_honours_num_results(aws, trained):
    personalize, s3 = aws("personalize"), aws("s3")
    version = train(personalize, trained["group"], USER_PERSONALIZATION)
    assert version["status"] == "ACTIVE", version
    job, out_key = run_batch(personalize, s3, trained["bucket"], version["solutionVersionArn"], ["u3", "nobody"], 7)
    assert job["status"] == "ACTIVE", job
    lines = read_lines(s3, trained["bucket"], out_key)
    seen = {line.split(",")[1] for line in interactions_csv().splitlines()[1:] if line.startswith("u3,")}
    recommended = lines[0]["output"]["recommendedItems"]
    assert len(recommended) == 7 and not seen & set(recommended)
    assert len(lines[1]["output"]["recommendedItems"]) == 7  # cold user: popularity fill


def test_csv_missing_required_column_fails_import_with_reason(aws, bucket):
    personalize, s3 = aws("personalize"), aws("s3")
    _, dataset = make_group(personalize)
    job = import_csv(personalize, s3, bucket, dataset, "USER_ID,ITEM_ID\nu1,i1\n")
    assert job["status"] == "CREATE FAILED"
    assert "TIMESTAMP" in job["failureReason"]


def test_import_of_missing_file_fails_with_reason(aws, bucket):
    personalize = aws("personalize")
    _, dataset = make_group(personalize)
    arn = personalize.create_dataset_import_job(
        jobName=unique("import"), datasetArn=dataset, roleArn=ROLE,
        dataSource={"dataLocation": f"s3://{bucket}/nothing-here.csv"},
    )["datasetImportJobArn"]
    job = active(personalize, "dataset_import_job", arn, "datasetImportJobArn")
    assert job["status"] == "CREATE FAILED"
    assert f"s3://{bucket}/nothing-here.csv" in job["failureReason"]


def test_too_few_interactions_fail_the_solution_version(aws, bucket):
    personalize, s3 = aws("personalize"), aws("s3")
    group, dataset = make_group(personalize)
    assert import_csv(personalize, s3, bucket, dataset, interactions_csv(users=10, per_user=5))["status"] == "ACTIVE"
    version = train(personalize, group, POPULARITY)
    assert version["status"] == "CREATE FAILED"
    assert "1000" in version["failureReason"]


def test_status_goes_through_create_pending_and_in_progress(aws, trained, faults):
    # CREATE PENDING lasts 20 % of the duration: long enough to be seen by the first describe on a
    # loaded machine
    faults({"durations": {"personalize": 5.0}})
    personalize, s3 = aws("personalize"), aws("s3")
    arn, _ = run_batch(personalize, s3, trained["bucket"], trained["version"], ["u1"], wait=False)
    seen = []
    wait_for(
        lambda: seen.append(personalize.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"]["status"]) or seen[-1],
        lambda status: status in TERMINAL, timeout=30, interval=0.05,
    )
    statuses = [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s]
    assert statuses == ["CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE"]


def test_batch_inference_over_the_concurrency_quota_is_refused(aws, trained, faults):
    faults({"limits": {"personalize": {"batch_inference_jobs": 2}}, "durations": {"personalize": 3.0}})
    personalize, s3 = aws("personalize"), aws("s3")
    running = []
    try:
        for _ in range(2):
            running.append(run_batch(personalize, s3, trained["bucket"], trained["version"], ["u1"], wait=False)[0])
        with pytest.raises(ClientError) as refused:
            run_batch(personalize, s3, trained["bucket"], trained["version"], ["u1"], wait=False)
        assert error_code(refused.value) == "LimitExceededException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    finally:
        # jobs left running would count against the next test's quota and could take its
        # fail_next injection (it is consumed when a job leaves CREATE PENDING)
        for arn in running:
            active(personalize, "batch_inference_job", arn, "batchInferenceJobArn", timeout=30)


def test_throttling_answers_throttling_exception(aws, faults):
    faults({"throttle": {"personalize": {"rate": 1.0, "operations": ["ListDatasetGroups"]}}})
    personalize = aws("personalize")
    with pytest.raises(ClientError) as throttled:
        personalize.list_dataset_groups()
    assert error_code(throttled.value) == "ThrottlingException"
    personalize.list_schemas()  # other operations are not throttled


def test_fail_next_job(aws, trained, faults):
    faults({"fail_next": {"personalize": 1}})
    personalize, s3 = aws("personalize"), aws("s3")
    job, _ = run_batch(personalize, s3, trained["bucket"], trained["version"], ["u1"])
    assert job["status"] == "CREATE FAILED" and "Injected failure" in job["failureReason"]
    job, _ = run_batch(personalize, s3, trained["bucket"], trained["version"], ["u1"])
    assert job["status"] == "ACTIVE"


def test_error_shapes(aws, trained):
    personalize = aws("personalize")
    name = trained["group"].rsplit("/", 1)[1]
    with pytest.raises(ClientError) as exists:
        personalize.create_dataset_group(name=name)
    assert error_code(exists.value) == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as missing:
        personalize.describe_solution_version(solutionVersionArn=trained["version"] + "x")
    assert error_code(missing.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as invalid:
        personalize.create_dataset_group(name="bad name!")
    assert error_code(invalid.value) == "InvalidInputException"
    listed = personalize.list_solution_versions(solutionArn=trained["version"].rsplit("/", 1)[0])["solutionVersions"]
    assert [v["solutionVersionArn"] for v in listed] == [trained["version"]]


def test_stop_solution_version_creation(aws, trained, faults):
    faults({"durations": {"personalize": 2.0}})
    personalize = aws("personalize")
    solution = trained["version"].rsplit("/", 1)[0]
    arn = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    personalize.stop_solution_version_creation(solutionVersionArn=arn)
    version = wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"],
                       lambda v: v["status"] not in ("CREATE PENDING", "CREATE IN_PROGRESS", "CREATE STOPPING"), timeout=10)
    assert version["status"] == "CREATE STOPPED"


def test_stopped_solution_version_stays_create_stopping_for_stopping_seconds(aws, trained, faults):
    # CREATE PENDING lasts 20 % of the duration: 0.8 s, then CREATE IN_PROGRESS until stopped
    faults({"durations": {"personalize": 4.0}, "stopping_seconds": 1.0})
    personalize = aws("personalize")
    solution = trained["version"].rsplit("/", 1)[0]
    arn = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]

    def status():
        return personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"]["status"]

    wait_for(status, lambda s: s == "CREATE IN_PROGRESS", timeout=10, interval=0.05)
    personalize.stop_solution_version_creation(solutionVersionArn=arn)
    stopped_at = time.monotonic()
    assert status() == "CREATE STOPPING"
    assert wait_for(status, lambda s: s != "CREATE STOPPING", timeout=10, interval=0.05) == "CREATE STOPPED"
    assert time.monotonic() - stopped_at >= 0.9
    with pytest.raises(ClientError) as again:
        personalize.stop_solution_version_creation(solutionVersionArn=arn)
    assert error_code(again.value) == "ResourceInUseException"


def test_hpo_solution_version_takes_longer(aws, trained, faults):
    faults({"durations": {"personalize": 0.4}, "hpo_duration_factor": 10})
    personalize = aws("personalize")
    plain = personalize.create_solution(name=unique("sol"), datasetGroupArn=trained["group"], recipeArn=POPULARITY)["solutionArn"]
    hpo = personalize.create_solution(name=unique("sol-hpo"), datasetGroupArn=trained["group"], recipeArn=POPULARITY,
                                      performHPO=True)["solutionArn"]
    for arn in (plain, hpo):
        assert active(personalize, "solution", arn, "solutionArn")["status"] == "ACTIVE"
    plain_v = personalize.create_solution_version(solutionArn=plain)["solutionVersionArn"]
    hpo_v = personalize.create_solution_version(solutionArn=hpo)["solutionVersionArn"]
    assert active(personalize, "solution_version", plain_v, "solutionVersionArn")["status"] == "ACTIVE"
    assert personalize.describe_solution_version(solutionVersionArn=hpo_v)["solutionVersion"]["status"] in (
        "CREATE PENDING", "CREATE IN_PROGRESS")
    hpo_version = active(personalize, "solution_version", hpo_v, "solutionVersionArn")
    assert hpo_version["status"] == "ACTIVE" and hpo_version["performHPO"] is True
