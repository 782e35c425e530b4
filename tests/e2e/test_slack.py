"""Slack (issue 8), end to end: the deployed notify function posting to the Slack stand-in
(scripts/slack_standin.py) through the webhook URL in SSM. One message per failed job whatever
Slack answers; 429 honoured; an outage never changes a job's outcome; rejected forms are told
once with their problems; many failures of one cause are folded into a summary naming every
job; a rotated webhook is used without a redeploy. (The failing container's message is checked
in test_failures.py, quota waits sending nothing in test_quota.py.)

Answers the stand-in is told to give carry "match": the job id (or form key), so a message about
another job never takes them."""

import json
import random
import string
import time

import pytest

from e2e_helpers import run_concurrently, unique, wait_for



def nowhere() -> str:
    """A region nobody lives in, of its own: failures naming it share a cause with nobody else's
    (causes differing in digits only are one cause to the folding)."""
    return "".join(random.choices(string.ascii_lowercase, k=12))


def failing_form(container_form, region=None, **overrides):
    """A form that fails fast and cheaply: its segment matches nobody (SegmentEmpty, in PREPARING)."""
    return container_form(segment={"gender": ["F"], "region": [region or nowhere()]}, **overrides)


def notified(recoflow, job_id: str, timeout: float = 60) -> dict:
    return recoflow.wait_notified(job_id, timeout)


def test_429_with_retry_after_then_200_delivers_the_message_once(recoflow, slack, container_form):
    job_id = recoflow.submit(failing_form(container_form))
    slack.answer([{"status": 429, "retry_after": 1, "match": job_id}])
    job = notified(recoflow, job_id)
    assert job["status"] == "FAILED"
    assert job["notification"]["state"] == "DELIVERED", job["notification"]
    assert job["notification"]["attempts"] == 2, job["notification"]
    posts = slack.about(job_id)
    assert [p["status"] for p in posts] == [429, 200], posts
    assert posts[1]["at"] - posts[0]["at"] >= 0.9, "Retry-After: 1 was not honoured"


def test_a_slack_outage_beyond_the_budget_leaves_the_job_failed_and_the_message_undelivered(
    recoflow, slack, container_form
):
    job_id = recoflow.submit(failing_form(container_form))
    slack.answer([{"status": 500, "match": job_id}] * 100)
    job = notified(recoflow, job_id)
    _, execution = recoflow.wait_ended(job_id)
    # The job's outcome is its own: FAILED for its segment, not for Slack.
    assert execution == "FAILED" and job["status"] == "FAILED"
    assert job["failure"]["error"] == "SegmentEmpty", job["failure"]
    notification = job["notification"]
    assert notification["state"] == "UNDELIVERED", notification
    assert notification["attempts"] >= 2, notification
    assert "500" in notification["last_error"], notification
    posts = slack.about(job_id)
    assert len(posts) == notification["attempts"] and all(p["status"] == 500 for p in posts), posts
    # Retried with backoff, within the budget (SlackRetryBudgetSeconds=8 on the local stack).
    assert posts[-1]["at"] - posts[0]["at"] <= 10, posts


def test_a_permanent_answer_is_not_retried(recoflow, slack, container_form):
    job_id = recoflow.submit(failing_form(container_form))
    slack.answer([{"status": 400, "body": "invalid_payload", "match": job_id}])
    job = notified(recoflow, job_id)
    assert job["notification"]["state"] == "UNDELIVERED", job["notification"]
    assert job["notification"]["attempts"] == 1
    assert "invalid_payload" in job["notification"]["last_error"]
    assert len(slack.about(job_id)) == 1


def test_an_invalid_form_in_s3_is_told_once_with_its_problems(recoflow, slack, container_form):
    form = container_form(num_results=0, job_name="x")
    key = recoflow.drop_form(form)
    job_id = recoflow.job_id_for_key(key)
    wait_for("the rejection message", lambda: slack.about(key), timeout=60)
    time.sleep(2)  # a second message would come right after the first
    (message,) = slack.about(key)
    assert message["status"] == 200
    text = json.dumps(message["body"])
    assert job_id in text
    for problem in ("$.num_results", "$.job_name"):
        assert problem in text, f"{problem} missing from the rejection message: {text}"
    assert "rejected/" in text, "the message should say where the report is"


def test_ten_failures_of_one_cause_are_folded_and_every_job_is_named(recoflow, slack, container_form):
    region = nowhere()
    ids = run_concurrently(*[lambda: recoflow.submit(failing_form(container_form, region)) for _ in range(10)])
    # The summary goes out when the fold window (15 s locally) closes.
    jobs = [notified(recoflow, job_id, timeout=90) for job_id in ids]
    states = [job["notification"]["state"] for job in jobs]
    assert set(states) <= {"DELIVERED", "FOLDED"}, states
    assert states.count("DELIVERED") <= 3, states

    def summaries_sent():
        messages = [m for m in slack.messages() if any(i in json.dumps(m["body"]) for i in ids)]
        named = {i for i in ids if any(i in json.dumps(m["body"]) for m in messages)}
        return messages if named == set(ids) else None

    messages = wait_for("every job to be named in a message", summaries_sent, timeout=60, interval=1)
    assert len(messages) <= 5, f"{len(messages)} messages for ten failures of one cause"
    folded = [m for m in messages if "folded" in json.dumps(m["body"]).lower()]
    assert folded, "no summary of the folded failures"
    for job_id in ids:
        own = [m for m in messages if job_id in json.dumps(m["body"])]
        assert len(own) == 1, f"{job_id} named in {len(own)} messages"


def test_eight_containers_failing_on_one_broken_csv_row_are_folded(recoflow, slack, quota_limits, container_form):
    """The container's cause names the CSV by the path SageMaker gives it (/opt/ml/...), never
    the local machine's, and what differs from job to job (names, ids) does not split the fold."""
    from test_failures import upload_broken_interactions

    instance_type = "ml.c5.xlarge"
    quota_limits.set({f"sagemaker-training:{instance_type}": 8})
    broken = upload_broken_interactions(recoflow)

    def submit_one():
        form = container_form(instance_type=instance_type)
        form["dataset"]["interactions"] = broken
        return recoflow.submit(form)

    ids = run_concurrently(*[submit_one for _ in range(8)])
    jobs = [notified(recoflow, job_id, timeout=180) for job_id in ids]
    causes = {job["failure"]["cause"] for job in jobs}
    for job in jobs:
        assert job["failure"]["error"] == "TrainingFailed", job["failure"]
        cause = job["failure"]["cause"]
        assert "/opt/ml/input/data/interactions/" in cause, cause
        assert ".localstack-host" not in cause and "sagemaker-jobs" not in cause, cause
    assert len(causes) == 8, "each cause names its own job's resource"
    states = [job["notification"]["state"] for job in jobs]
    assert states.count("DELIVERED") <= 3 and "FOLDED" in states, states

    def every_job_named():
        messages = [m for m in slack.messages() if any(i in json.dumps(m["body"]) for i in ids)]
        return messages if all(any(i in json.dumps(m["body"]) for m in messages) for i in ids) else None

    messages = wait_for("every job named in a message", every_job_named, timeout=60, interval=1)
    assert len(messages) <= 4, f"{len(messages)} messages for eight failures of one cause (at most 3 and a summary)"


def test_slack_markup_in_a_form_is_shown_as_written(recoflow, slack, container_form):
    hostile = "<!channel> <https://evil.example|click>"
    form = container_form()
    form[hostile] = "a field of that name"
    key = recoflow.drop_form(form)
    job_id = recoflow.job_id_for_key(key)
    wait_for("the rejection message", lambda: slack.about(job_id), timeout=60)
    (message,) = slack.about(job_id)
    body = json.dumps(message["body"])
    assert "&lt;!channel&gt;" in body, body
    assert "<!channel>" not in body and "<https://evil.example" not in body, body


def test_a_success_is_announced_only_when_the_form_asks(recoflow, slack, container_form):
    asks = recoflow.submit(container_form(notify={"on_success": True, "slack_channel": "#ml-alerts"}))
    quiet = recoflow.submit(container_form())
    for job_id in (asks, quiet):
        job, execution = recoflow.wait_ended(job_id, timeout=180)
        assert execution == "SUCCEEDED", job.get("failure")
    job = notified(recoflow, asks, timeout=30)
    assert job["notification"]["state"] == "DELIVERED"
    (message,) = slack.about(asks)
    text = message["body"]["text"]
    assert "SUCCEEDED" in text and job["delivery"]["version"] in text
    assert f"{job['counts']['users_delivered']} users delivered" in text, text
    assert message["body"]["channel"] == "#ml-alerts"
    assert slack.about(quiet) == []


@pytest.fixture
def webhook(aws, stack):
    ssm, name = aws("ssm"), stack["SlackWebhookParameter"]
    original = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    yield lambda url: ssm.put_parameter(Name=name, Value=url, Type="SecureString", Overwrite=True)
    ssm.put_parameter(Name=name, Value=original, Type="SecureString", Overwrite=True)


def test_a_rotated_webhook_is_used_within_30_seconds_without_a_redeploy(recoflow, slack, container_form, webhook):
    rotated = slack.url + "/services/" + unique("rotated")
    webhook(rotated)
    time.sleep(31)
    job_id = recoflow.submit(failing_form(container_form))
    notified(recoflow, job_id)
    (message,) = slack.about(job_id)
    assert rotated.endswith(message["path"]), message["path"]
