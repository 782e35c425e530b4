"""List calls page as AWS pages them (localstack/extension/recoflow_localstack/paging.py).

SageMaker documents that ListTrainingJobs takes a page of MaxResults jobs first and filters it
afterwards, so a page can be short or empty while NextToken is still set; the emulators do that for
every List call. Each test runs in an account of its own, so the lists hold only its resources.
"""

import time
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from emu_helpers import unique, wait_for
from sagemaker_requests import (
    SLEEP, TEST_IMAGES, UNRUNNABLE, code, finished_processing, finished_training, processing_request,
    training_request,
)

POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"


@pytest.fixture
def images(faults):
    # room for every job of a test: the default quota is 2 training instances per type
    faults({"sagemaker_images": TEST_IMAGES,
            "limits": {"sagemaker": {"training": {"*": 20}, "processing": {"*": 20}}}})
    return faults


def pages(call, token_key: str, items_key: str, **kwargs) -> list[list[dict]]:
    """Every page of a List call, following the token to the end (a page may be empty)."""
    result, token = [], None
    while True:
        response = call(**kwargs, **({token_key: token} if token else {}))
        result.append(response[items_key])
        token = response.get(token_key)
        if not token:
            return result


def naive_in_progress_count(sm) -> int:
    """The bug this suite exists to catch: counting running jobs from the first page only."""
    return len(sm.list_training_jobs(StatusEquals="InProgress")["TrainingJobSummaries"])


def in_progress_count(sm) -> int:
    """Follows NextToken through short and empty pages to the end."""
    found = pages(sm.list_training_jobs, "NextToken", "TrainingJobSummaries", StatusEquals="InProgress")
    return sum(len(page) for page in found)


def test_quota_counter_must_follow_next_token_through_empty_pages(own_account, images):
    sm, s3 = own_account("sagemaker"), own_account("s3")
    bucket = unique("paging")
    s3.create_bucket(Bucket=bucket)
    running = [unique(f"running-{i}") for i in range(3)]
    for name in running:
        sm.create_training_job(**training_request(name, bucket, image=SLEEP, channels=()))
    # ten newer jobs that end at once: they fill the first page (newest first, ten a page)
    finished = [unique(f"done-{i}") for i in range(10)]
    for name in finished:
        sm.create_training_job(**training_request(name, bucket, image=UNRUNNABLE, channels=()))
    for name in finished:
        assert finished_training(sm, name)["TrainingJobStatus"] == "Failed"
    try:
        first = sm.list_training_jobs(StatusEquals="InProgress")
        assert first["TrainingJobSummaries"] == [] and first.get("NextToken"), first
        assert naive_in_progress_count(sm) == 0  # undercounts: 3 jobs run
        assert in_progress_count(sm) == 3
        paginated = sm.get_paginator("list_training_jobs").paginate(StatusEquals="InProgress")
        assert sorted(j["TrainingJobName"] for page in paginated for j in page["TrainingJobSummaries"]) == sorted(running)
    finally:
        for name in running:
            sm.stop_training_job(TrainingJobName=name)
        for name in running:
            assert finished_training(sm, name, timeout=15)["TrainingJobStatus"] == "Stopped"


def test_training_jobs_are_paged_before_they_are_filtered(own_account, images):
    sm, s3 = own_account("sagemaker"), own_account("s3")
    bucket = unique("paging")
    s3.create_bucket(Bucket=bucket)
    names = [f"blue-{i}" for i in (1, 2, 3)] + [f"red-{i}" for i in (1, 2, 3, 4)]
    for name in names:  # created in this order: blue-1 is the oldest
        sm.create_training_job(**training_request(name, bucket, image=UNRUNNABLE, channels=()))
    for name in names:
        finished_training(sm, name)

    # by name, two a page: [blue-1 blue-2] [blue-3 red-1] [red-2 red-3] [red-4], then "blue" kept
    found = pages(sm.list_training_jobs, "NextToken", "TrainingJobSummaries",
                  NameContains="BLUE", SortBy="Name", SortOrder="Ascending", MaxResults=2)
    assert [[j["TrainingJobName"] for j in page] for page in found] == [["blue-1", "blue-2"], ["blue-3"], [], []]
    found = pages(sm.list_training_jobs, "NextToken", "TrainingJobSummaries",
                  NameContains="red", SortBy="Name", SortOrder="Descending", MaxResults=3)
    assert [[j["TrainingJobName"] for j in page] for page in found] == [["red-4", "red-3", "red-2"], ["red-1"], []]
    # no SortBy/SortOrder: newest first
    listed = sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in listed] == names[::-1]
    assert sm.list_training_jobs(StatusEquals="Completed")["TrainingJobSummaries"] == []
    # filters on what the emulator never has match nothing
    assert sm.list_training_jobs(WarmPoolStatusEquals="Available")["TrainingJobSummaries"] == []


def next_second() -> datetime:
    """Waits until the next whole second and returns it: boto3 sends times in whole seconds."""
    boundary = int(time.time()) + 1
    time.sleep(boundary - time.time() + 0.05)
    return datetime.fromtimestamp(boundary, tz=timezone.utc)


def test_processing_jobs_filter_on_creation_and_modification_times(own_account, images):
    sm = own_account("sagemaker")
    earlier = [unique("early-a"), unique("early-b")]
    for name in earlier:
        sm.create_processing_job(**processing_request(name, "unused", image=UNRUNNABLE, entrypoint=()))
    sleeper = unique("early-sleeper")
    sm.create_processing_job(**processing_request(sleeper, "unused", image=SLEEP, entrypoint=()))
    created_boundary = next_second()
    later = [unique("late-a"), unique("late-b")]
    for name in later:
        sm.create_processing_job(**processing_request(name, "unused", image=UNRUNNABLE, entrypoint=()))
    for name in earlier + later:
        finished_processing(sm, name)
    modified_boundary = next_second()
    sm.stop_processing_job(ProcessingJobName=sleeper)  # its last change comes after the boundary

    def listed(**filters) -> set[str]:
        found = pages(sm.list_processing_jobs, "NextToken", "ProcessingJobSummaries", MaxResults=2, **filters)
        return {j["ProcessingJobName"] for page in found for j in page}

    assert listed(CreationTimeAfter=created_boundary) == set(later)
    assert listed(CreationTimeBefore=created_boundary) == set(earlier) | {sleeper}
    assert listed(LastModifiedTimeAfter=modified_boundary) == {sleeper}
    assert listed(LastModifiedTimeBefore=modified_boundary) == set(earlier + later)
    assert listed(CreationTimeBefore=created_boundary, StatusEquals="Failed") == set(earlier)
    assert finished_processing(sm, sleeper, timeout=15)["ProcessingJobStatus"] == "Stopped"


@pytest.mark.parametrize("token", ["garbage", "e30=", "eyJvIjoieCIsImsiOltdfQ==", "%%%"])
def test_malformed_next_token_is_a_validation_error(own_account, token):
    with pytest.raises(ClientError) as refused:
        own_account("sagemaker").list_training_jobs(NextToken=token)
    assert code(refused.value) == "ValidationException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as refused:
        own_account("personalize").list_dataset_groups(nextToken=token)
    assert code(refused.value) == "InvalidNextTokenException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_token_only_goes_back_to_the_listing_that_gave_it(own_account, images):
    sm = own_account("sagemaker")
    for _ in range(2):
        sm.create_processing_job(**processing_request(unique("tok"), "unused", image=UNRUNNABLE, entrypoint=()))
    token = sm.list_processing_jobs(MaxResults=1)["NextToken"]
    assert len(sm.list_processing_jobs(MaxResults=1, NextToken=token)["ProcessingJobSummaries"]) == 1
    for other in ({"SortBy": "Name"}, {"SortOrder": "Ascending"}):
        with pytest.raises(ClientError) as refused:
            sm.list_processing_jobs(MaxResults=1, NextToken=token, **other)
        assert code(refused.value) == "ValidationException"
    with pytest.raises(ClientError) as refused:
        sm.list_training_jobs(NextToken=token)
    assert code(refused.value) == "ValidationException"


def active(personalize, kind: str, arn: str) -> dict:
    describe = getattr(personalize, f"describe_{kind}")
    key = "".join(p.capitalize() if i else p for i, p in enumerate(kind.split("_")))
    return wait_for(lambda: describe(**{f"{key}Arn": arn})[key], lambda r: r["status"] == "ACTIVE")


def test_personalize_lists_are_paged_before_the_parent_filter(own_account):
    personalize = own_account("personalize")
    groups = [personalize.create_dataset_group(name=unique(f"group{i}"))["datasetGroupArn"] for i in (1, 2)]
    for group in groups:
        active(personalize, "dataset_group", group)
    # alternate between the groups: newest first the list is g1, g2, g1, g2, g1
    solutions = []
    for i, group in enumerate([groups[0], groups[1], groups[0], groups[1], groups[0]]):
        arn = personalize.create_solution(name=unique(f"sol{i}"), datasetGroupArn=group, recipeArn=POPULARITY)["solutionArn"]
        solutions.append((group, arn))

    found = pages(personalize.list_solutions, "nextToken", "solutions", datasetGroupArn=groups[1], maxResults=2)
    assert [[s["solutionArn"] for s in page] for page in found] == [[solutions[3][1]], [solutions[1][1]], []]
    found = pages(personalize.list_solutions, "nextToken", "solutions", datasetGroupArn=groups[0], maxResults=2)
    assert [[s["solutionArn"] for s in page] for page in found] == [[solutions[4][1]], [solutions[2][1]], [solutions[0][1]]]
    # unfiltered: full pages, newest first
    found = pages(personalize.list_dataset_groups, "nextToken", "datasetGroups", maxResults=1)
    assert [[g["datasetGroupArn"] for g in page] for page in found] == [[groups[1]], [groups[0]]]
    # a token of one listing is not one of another
    token = personalize.list_solutions(maxResults=1)["nextToken"]
    with pytest.raises(ClientError) as refused:
        personalize.list_dataset_groups(nextToken=token)
    assert code(refused.value) == "InvalidNextTokenException"
