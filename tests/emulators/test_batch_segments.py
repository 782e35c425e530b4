"""Amazon Personalize batch segment jobs (USER_SEGMENTATION recipes aws-item-affinity and
aws-item-attribute-affinity) and the RELATED_ITEMS batch inference format, on a data set with
planted taste clusters: the users of cluster k interact mostly with the items of cluster k, whose
CATEGORY is CATEGORIES[k]. Operations, paging and tags beyond what test_model_conformance.py,
test_list_paging.py and test_tags.py hold for every operation."""

import json
import random
import uuid

import pytest
from botocore.exceptions import ClientError

from emu_helpers import fresh_account, unique, wait_for

ROLE = "arn:aws:iam::000000000000:role/personalize"
RECIPE = "arn:aws:personalize:::recipe/"
CATEGORIES = ("coat", "shoe", "hat")
USERS_PER_CLUSTER, ITEMS_PER_CLUSTER, EVENTS_PER_USER, IN_CLUSTER = 30, 12, 20, 0.9
TERMINAL = ("ACTIVE", "CREATE FAILED")
INTERACTIONS = [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}]
ITEMS = [{"name": "ITEM_ID", "type": "string"}, {"name": "CATEGORY", "type": "string", "categorical": True},
         {"name": "COLOR", "type": "string", "categorical": True}]


def cluster_of(entity_id: str) -> int:
    return int(entity_id[1:].split("_")[0])


def planted_data(seed: int = 11) -> tuple[str, str]:
    """(interactions CSV, items CSV): user u<k>_<n> and item i<k>_<n> belong to cluster k."""
    rnd = random.Random(seed)
    interactions = ["USER_ID,ITEM_ID,TIMESTAMP"]
    for k in range(len(CATEGORIES)):
        for n in range(USERS_PER_CLUSTER):
            for event in range(EVENTS_PER_USER):
                cluster = k if rnd.random() < IN_CLUSTER else rnd.randrange(len(CATEGORIES))
                interactions.append(f"u{k}_{n},i{cluster}_{rnd.randrange(ITEMS_PER_CLUSTER)},{1700000000 + event}")
    items = ["ITEM_ID,CATEGORY,COLOR"] + [
        f"i{k}_{n},{category}{'|sale' if n % 4 == 0 else ''},{'red' if n % 2 else 'blue'}"
        for k, category in enumerate(CATEGORIES) for n in range(ITEMS_PER_CLUSTER)
    ]
    return "\n".join(interactions) + "\n", "\n".join(items) + "\n"


class Shop:
    """An account of its own with a dataset group holding the planted interactions (and, with
    ``items``, an Items dataset), and helpers to train and run jobs on it."""

    def __init__(self, client_for, items: str | None = "planted"):
        self.account = fresh_account()
        self.personalize, self.s3 = client_for("personalize", self.account), client_for("s3", self.account)
        self.unchecked = client_for("personalize", self.account, checked=False)
        self.bucket = unique("segments")
        self.s3.create_bucket(Bucket=self.bucket)
        interactions, planted_items = planted_data()
        self.group = self.active("dataset_group", self.personalize.create_dataset_group(name=unique("shop")))
        self.load("Interactions", INTERACTIONS, interactions)
        if items is not None:
            self.load("Items", ITEMS if items == "planted" else items[0], planted_items if items == "planted" else items[1])

    def active(self, kind: str, response: dict) -> str:
        key = "".join(p.capitalize() if i else p for i, p in enumerate(kind.split("_")))
        arn = response[f"{key}Arn"]
        record = self.wait(kind, arn)
        assert record["status"] == "ACTIVE", record
        return arn

    def wait(self, kind: str, arn: str) -> dict:
        key = "".join(p.capitalize() if i else p for i, p in enumerate(kind.split("_")))
        describe = getattr(self.personalize, f"describe_{kind}")
        return wait_for(lambda: describe(**{f"{key}Arn": arn})[key], lambda r: r["status"] in TERMINAL, timeout=30)

    def put(self, body: str, name: str = "data") -> str:
        key = f"{uuid.uuid4().hex[:8]}/{name}"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode())
        return f"s3://{self.bucket}/{key}"

    def load(self, dataset_type: str, fields: list, csv: str) -> None:
        schema = self.personalize.create_schema(name=unique("schema"), schema=json.dumps(
            {"type": "record", "name": dataset_type, "namespace": "com.amazonaws.personalize.schema",
             "fields": fields, "version": "1.0"}))["schemaArn"]
        dataset = self.active("dataset", self.personalize.create_dataset(
            name=unique(dataset_type.lower()), schemaArn=schema, datasetGroupArn=self.group, datasetType=dataset_type))
        self.active("dataset_import_job", self.personalize.create_dataset_import_job(
            jobName=unique("import"), datasetArn=dataset, roleArn=ROLE,
            dataSource={"dataLocation": self.put(csv, f"{dataset_type.lower()}.csv")}))

    def version(self, recipe: str) -> dict:
        solution = self.active("solution", self.personalize.create_solution(
            name=unique("solution"), datasetGroupArn=self.group, recipeArn=RECIPE + recipe))
        arn = self.personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        return self.wait("solution_version", arn)

    def segment_job(self, version: str, lines: list, wait: bool = True, **extra) -> tuple[str, str]:
        """(job ARN, output key); the input is one file of JSON lines (objects, or raw strings)."""
        source = self.put("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines), "in.json")
        out = f"out/{uuid.uuid4().hex[:8]}/"
        request = {"jobName": unique("segment"), "solutionVersionArn": version, "roleArn": ROLE,
                   "jobInput": {"s3DataSource": {"path": source}},
                   "jobOutput": {"s3DataDestination": {"path": f"s3://{self.bucket}/{out}"}}, **extra}
        arn = self.personalize.create_batch_segment_job(**request)["batchSegmentJobArn"]
        if wait:
            assert self.wait("batch_segment_job", arn)["status"] == "ACTIVE"
        return arn, f"{out}in.json.out"

    def output(self, key: str) -> list[dict]:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()
        return [json.loads(line) for line in body.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def shop(client_for):
    made = Shop(client_for)
    made.affinity = made.version("aws-item-affinity")
    made.attribute_affinity = made.version("aws-item-attribute-affinity")
    assert made.affinity["status"] == "ACTIVE" and made.attribute_affinity["status"] == "ACTIVE", made.attribute_affinity
    return made


def code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def from_cluster(users: list[str], k: int) -> float:
    return sum(1 for u in users if cluster_of(u) == k) / len(users)


def test_item_affinity_segments_rank_the_items_cluster_first(shop):
    items = [f"i{k}_3" for k in range(len(CATEGORIES))]
    _arn, key = shop.segment_job(shop.affinity["solutionVersionArn"], [{"itemId": i} for i in items], numResults=25)
    lines = shop.output(key)
    assert [line["input"] for line in lines] == [{"itemId": i} for i in items]
    interactions, _ = planted_data()
    for k, line in enumerate(lines):
        assert set(line) == {"input", "output", "error"} and line["error"] is None
        assert list(line["output"]) == ["usersList"]
        users = line["output"]["usersList"]
        assert len(users) == 25 == len(set(users))
        assert from_cluster(users, k) >= 0.8, users
        # the users who interacted with the item come first
        direct = {row.split(",")[0] for row in interactions.splitlines()[1:] if row.split(",")[1] == items[k]}
        assert set(users[:len(direct)]) == direct or set(users) < direct


def test_item_attribute_affinity_takes_the_documented_expressions(shop):
    lines = [
        {"itemAttributes": 'ITEMS.CATEGORY = "coat"'},
        {"itemAttributes": 'ITEMS.category = "hat" AND ITEMS.COLOR = "red"'},
        {"itemAttributes": 'ITEMS.CATEGORY = "sale"'},  # one value of a categorical column with several
        {"itemAttributes": 'ITEMS.CATEGORY = "coat" OR ITEMS.CATEGORY = "hat"'},
        {"itemAttributes": 'ITEMS.CATEGORY > "coat"'},
        {"itemAttributes": 'ITEMS.CATEGORY = "sandal"'},
        {"itemId": "i0_1"},
        "not json",
    ]
    _arn, key = shop.segment_job(shop.attribute_affinity["solutionVersionArn"], lines, numResults=20)
    coat, red_hat, sale, with_or, with_range, none_match, wrong_recipe, broken = shop.output(key)
    assert coat == {"input": lines[0], "output": {"usersList": coat["output"]["usersList"]}, "error": None}
    assert from_cluster(coat["output"]["usersList"], 0) >= 0.8
    assert from_cluster(red_hat["output"]["usersList"], 2) >= 0.8
    assert len(sale["output"]["usersList"]) == 20  # sale items are in every cluster
    for line, words in ((with_or, "OR is not supported"), (with_range, "only = is supported"),
                        (none_match, "No item of the training data matches"),
                        (wrong_recipe, "Missing required field itemAttributes")):
        assert line["output"] is None and words in line["error"], line
    assert broken["input"] == "not json" and broken["output"] is None and "Invalid input line" in broken["error"]


def test_similar_items_batch_inference_answers_in_the_services_format(shop):
    version = shop.version("aws-similar-items")["solutionVersionArn"]
    source = shop.put('{"itemId": "i1_2"}\n{"userId": "u1_1"}\n', "items.json")
    out = f"out/{uuid.uuid4().hex[:8]}/"
    arn = shop.personalize.create_batch_inference_job(
        jobName=unique("similar"), solutionVersionArn=version, roleArn=ROLE, numResults=10,
        jobInput={"s3DataSource": {"path": source}}, jobOutput={"s3DataDestination": {"path": f"s3://{shop.bucket}/{out}"}},
    )["batchInferenceJobArn"]
    assert shop.wait("batch_inference_job", arn)["status"] == "ACTIVE"
    similar, by_user = shop.output(f"{out}items.json.out")
    assert similar["input"] == {"itemId": "i1_2"} and similar["error"] is None
    assert list(similar["output"]) == ["recommendedItems", "scores"]
    items, scores = similar["output"]["recommendedItems"], similar["output"]["scores"]
    assert len(items) == len(scores) == 10 and "i1_2" not in items
    assert scores == sorted(scores, reverse=True)
    assert from_cluster(items, 1) >= 0.8, items
    assert by_user == {"input": {"userId": "u1_1"}, "output": None, "error": "Missing required field itemId in input."}


def test_recipes_and_jobs_must_match(shop):
    error_of = {}
    for name, call in (
        ("segment on a RELATED_ITEMS version", lambda: shop.segment_job(
            shop.version("aws-popularity-count")["solutionVersionArn"], [{"itemId": "i0_1"}], wait=False)),
        ("inference on a USER_SEGMENTATION version", lambda: shop.personalize.create_batch_inference_job(
            jobName=unique("inference"), solutionVersionArn=shop.affinity["solutionVersionArn"], roleArn=ROLE,
            jobInput={"s3DataSource": {"path": f"s3://{shop.bucket}/x"}},
            jobOutput={"s3DataDestination": {"path": f"s3://{shop.bucket}/y/"}})),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        error_of[name] = (code(refused.value), refused.value.response["Error"]["Message"])
    assert error_of["segment on a RELATED_ITEMS version"][0] == "InvalidInputException"
    assert "USER_SEGMENTATION recipe" in error_of["segment on a RELATED_ITEMS version"][1]
    assert error_of["inference on a USER_SEGMENTATION version"][0] == "InvalidInputException"
    assert "CreateBatchSegmentJob" in error_of["inference on a USER_SEGMENTATION version"][1]


def test_attribute_affinity_needs_an_items_dataset_with_an_attribute_to_train_on(client_for):
    without_items = Shop(client_for, items=None).version("aws-item-attribute-affinity")
    assert without_items["status"] == "CREATE FAILED"
    assert without_items["failureReason"] == "The dataset group has no Items dataset. Create one and import data first."
    # every item has its own TITLE: nothing to learn from
    distinct = ([{"name": "ITEM_ID", "type": "string"}, {"name": "TITLE", "type": "string"}],
                "ITEM_ID,TITLE\n" + "".join(f"i{k}_{n},title {k} {n}\n" for k in range(3) for n in range(ITEMS_PER_CLUSTER)))
    useless = Shop(client_for, items=distinct).version("aws-item-attribute-affinity")
    assert useless["status"] == "CREATE FAILED"
    assert useless["failureReason"].startswith("Did not find any attribute to train on.")
    # item affinity does without items
    assert Shop(client_for, items=None).version("aws-item-affinity")["status"] == "ACTIVE"


def test_a_job_fails_with_its_reason(shop, faults):
    version = shop.affinity["solutionVersionArn"]
    missing = f"s3://{shop.bucket}/nothing-here/"
    arn = shop.personalize.create_batch_segment_job(
        jobName=unique("segment"), solutionVersionArn=version, roleArn=ROLE,
        jobInput={"s3DataSource": {"path": missing}}, jobOutput={"s3DataDestination": {"path": f"s3://{shop.bucket}/o/"}},
    )["batchSegmentJobArn"]
    job = shop.wait("batch_segment_job", arn)
    assert job["status"] == "CREATE FAILED" and job["failureReason"] == f"No input files found at {missing}."
    faults({"fail_next": {"personalize": 1}})
    arn, _key = shop.segment_job(version, [{"itemId": "i0_1"}], wait=False)
    job = shop.wait("batch_segment_job", arn)
    assert job["status"] == "CREATE FAILED" and "Injected failure" in job["failureReason"]
    unknown = shop.output(shop.segment_job(version, [{"itemId": "i9_9"}])[1])[0]
    assert unknown["output"] is None and "not in the training data" in unknown["error"]


def test_requests_are_checked(shop):
    version = shop.affinity["solutionVersionArn"]
    request = {"jobName": unique("segment"), "solutionVersionArn": version, "roleArn": ROLE,
               "jobInput": {"s3DataSource": {"path": f"s3://{shop.bucket}/in.json"}},
               "jobOutput": {"s3DataDestination": {"path": f"s3://{shop.bucket}/out/"}}}
    for changes, words in (({"numResults": 0}, "numResults must be between 1 and 5000000"),
                           ({"numResults": 5_000_001}, "numResults must be between 1 and 5000000"),
                           ({"jobInput": {"s3DataSource": {"path": "https://example.com/in.json"}}}, "must be an s3:// path"),
                           ({"jobName": "bad name"}, "at 'jobName' failed to satisfy constraint")):
        with pytest.raises(ClientError) as refused:
            shop.unchecked.create_batch_segment_job(**{**request, **changes})
        assert code(refused.value) == "InvalidInputException" and words in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as refused:
        shop.personalize.create_batch_segment_job(**{**request, "solutionVersionArn": version + "x"})
    assert code(refused.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as refused:
        shop.personalize.describe_batch_segment_job(batchSegmentJobArn=version.replace("solution/", "batch-segment-job/"))
    assert code(refused.value) == "ResourceNotFoundException"


def test_batch_segment_jobs_over_the_quota_are_refused(shop, faults):
    faults({"limits": {"personalize": {"batch_segment_jobs": 1}}, "durations": {"personalize": 3.0}})
    version = shop.affinity["solutionVersionArn"]
    similar = shop.version("aws-similar-items")["solutionVersionArn"]
    running, _ = shop.segment_job(version, [{"itemId": "i0_1"}], wait=False)
    inference = None
    try:
        with pytest.raises(ClientError) as refused:
            shop.segment_job(version, [{"itemId": "i0_1"}], wait=False)
        assert code(refused.value) == "LimitExceededException"
        # batch inference jobs have a quota of their own
        inference = shop.personalize.create_batch_inference_job(
            jobName=unique("inference"), solutionVersionArn=similar, roleArn=ROLE,
            jobInput={"s3DataSource": {"path": f"s3://{shop.bucket}/x"}},
            jobOutput={"s3DataDestination": {"path": f"s3://{shop.bucket}/y/"}})["batchInferenceJobArn"]
    finally:
        # jobs left running would take the next test's quota or its fail_next injection
        shop.wait("batch_segment_job", running)
        if inference:
            shop.wait("batch_inference_job", inference)


def test_list_pages_then_filters_by_solution_version_newest_first(shop):
    other = shop.version("aws-item-affinity")["solutionVersionArn"]
    mine = [shop.segment_job(other, [{"itemId": "i0_1"}], wait=False)[0] for _ in range(3)]
    pages, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = shop.personalize.list_batch_segment_jobs(solutionVersionArn=other, maxResults=2, **kwargs)
        pages.append([job["batchSegmentJobArn"] for job in page["batchSegmentJobs"]])
        token = page.get("nextToken")
        if not token:
            break
    assert [arn for page in pages for arn in page] == list(reversed(mine))
    everything = shop.personalize.list_batch_segment_jobs()["batchSegmentJobs"]
    assert set(mine) < {job["batchSegmentJobArn"] for job in everything}
    assert set(everything[0]) <= {"batchSegmentJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime",
                                  "failureReason", "solutionVersionArn"}
    for arn in mine:
        shop.wait("batch_segment_job", arn)
    with pytest.raises(ClientError) as refused:
        shop.personalize.list_batch_segment_jobs(nextToken="garbage")
    assert code(refused.value) == "InvalidNextTokenException"


def test_batch_segment_jobs_carry_tags(shop):
    tags = [{"tagKey": "recoflow:job-id", "tagValue": "job-7"}, {"tagKey": "recoflow:output", "tagValue": "audience"}]
    arn, _key = shop.segment_job(shop.affinity["solutionVersionArn"], [{"itemId": "i0_1"}], tags=tags)
    assert shop.personalize.list_tags_for_resource(resourceArn=arn)["tags"] == tags
    shop.personalize.tag_resource(resourceArn=arn, tags=[{"tagKey": "team", "tagValue": "ads"}])
    shop.personalize.untag_resource(resourceArn=arn, tagKeys=["recoflow:output"])
    assert {t["tagKey"] for t in shop.personalize.list_tags_for_resource(resourceArn=arn)["tags"]} == {"recoflow:job-id", "team"}
    assert "tags" not in shop.personalize.describe_batch_segment_job(batchSegmentJobArn=arn)["batchSegmentJob"]
    with pytest.raises(ClientError) as refused:
        shop.segment_job(shop.affinity["solutionVersionArn"], [{"itemId": "i0_1"}], tags=[{"tagKey": "aws:x", "tagValue": "1"}])
    assert code(refused.value) == "InvalidInputException"
