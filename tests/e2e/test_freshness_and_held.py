"""Freshness alerts and the held version's message (issue 17), end to end on the local stack.

- A result set whose form says expect_refresh_hours (hours are seconds here:
  FreshnessHourSeconds=1) and that gets no newer version within it: the freshness check (an
  EventBridge rule, every minute here) sends exactly one alert, and later checks send none.
- A second job on a users file with 10 % of the first one's users: the quality gate holds its
  version (max_change users_personalized), the job ends HELD while its execution succeeds, the
  API still serves the first version, and exactly one Slack message names the metric, the value
  and the bound, with a chart whose presigned URL answers 200 image/png."""

import csv
import io
import json
import time

import requests

from e2e_helpers import EXAMPLE_DATA, segment_users, unique, wait_for

# The freshness rule fires about every 60 s on the local stack (CAPABILITIES.md item 7).
CHECK_PERIOD = 60


def notify_function(aws) -> str:
    names = [
        f["FunctionName"]
        for page in aws("lambda").get_paginator("list_functions").paginate()
        for f in page["Functions"]
        if "NotifyFunction" in f["FunctionName"]
    ]
    assert len(names) == 1, names
    return names[0]


def stale_alerts(slack, result_set: str) -> list:
    return [m for m in slack.about(result_set, "is stale") if m.get("status", 200) == 200]


def test_a_result_set_past_its_expected_refresh_is_alerted_once(recoflow, slack, container_form, aws):
    form = container_form(expect_refresh_hours=5)  # 5 s on the local stack
    job_id = recoflow.submit(form)
    job, execution = recoflow.wait_ended(job_id, timeout=300)
    assert (job["status"], execution) == ("SUCCEEDED", "SUCCEEDED"), job.get("failure")
    version = job["delivery"]["version"]

    # The schedule finds it past due within a period or two of the rule.
    alerts = wait_for(
        f"the stale alert of {form['result_set']}",
        lambda: stale_alerts(slack, form["result_set"]) or None,
        timeout=3 * CHECK_PERIOD,
        interval=2,
    )
    assert len(alerts) == 1, alerts
    body = alerts[0]["body"]
    text = body["text"]
    assert version in text and job_id in text and "SUCCEEDED" in text, text
    assert "every 5 s" in text, text
    buttons = [b for b in body["blocks"] if b["type"] == "actions"]
    assert buttons[0]["elements"][0]["url"].endswith(f"/ui/result-sets?result_set={form['result_set']}"), buttons

    # Later checks, asked for directly and by the schedule, send nothing more.
    function = notify_function(aws)
    for _ in range(2):
        answer, error = recoflow.invoke(function, {"kind": "freshness"})
        assert error is None and answer["state"] == "FRESHNESS_CHECKED", answer
    # And one more firing of the schedule.
    time.sleep(CHECK_PERIOD + 10)
    assert len(stale_alerts(slack, form["result_set"])) == 1, "the alert was repeated"


def tenth_of_the_users(aws, stack) -> tuple[str, set]:
    """A users file with every tenth user of the example's; its S3 URI and its user ids."""
    with (EXAMPLE_DATA / "users.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    kept = [rows[0]] + rows[1::10]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(kept)
    key = f"e2e/{unique('tenth')}/users.csv"
    aws("s3").put_object(Bucket=stack["DataBucket"], Key=key, Body=out.getvalue().encode())
    return f"s3://{stack['DataBucket']}/{key}", {r[0] for r in kept[1:]}


def test_a_held_version_is_told_once_with_the_rule_and_a_chart(recoflow, slack, container_form, aws, stack, api):
    gate = {"max_change": {"users_personalized": 0.2}, "on_fail": "hold"}
    first_form = container_form(quality_gate=gate)
    first_id = recoflow.submit(first_form)
    first, execution = recoflow.wait_ended(first_id, timeout=300)
    assert (first["status"], execution) == ("SUCCEEDED", "SUCCEEDED"), first.get("failure")
    served_version = first["delivery"]["version"]

    users_uri, users = tenth_of_the_users(aws, stack)
    segment = first_form["segment"]
    assert segment_users(segment) & users, "the smaller file still has users of the segment"
    dataset = dict(first_form["dataset"], users=users_uri)
    second_form = container_form(quality_gate=gate, result_set=first_form["result_set"], dataset=dataset)
    second_id = recoflow.submit(second_form)
    second, execution = recoflow.wait_ended(second_id, timeout=300)
    # HELD is the job's outcome; its execution did what it should.
    assert (second["status"], execution) == ("HELD", "SUCCEEDED"), (second["status"], second.get("failure"))
    held_version = second["delivery"]["version"]

    # The first version keeps serving.
    user = sorted(segment_users(segment) & users)[0]
    answer = api.recommendations(first_form["result_set"], user)
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == served_version

    job = recoflow.wait_notified(second_id)
    assert job["notification"]["state"] == "DELIVERED", job["notification"]
    assert job["notification"]["kind"] == "held"
    messages = [m for m in slack.about(second_id) if m.get("status", 200) == 200]
    assert len(messages) == 1, messages
    body = messages[0]["body"]
    text = body["text"]
    failure = next(f for f in second["gate"]["failures"] if f["rule"] == "max_change")
    assert failure["metric"] == "users_personalized"
    assert "users_personalized" in text and "max_change" in text and "(bound 0.2)" in text, text
    value = f"{failure['value']:g}"
    assert f"users_personalized {value} failed max_change" in text, text
    assert held_version in text, text

    images = [b for b in body["blocks"] if b["type"] == "image"]
    assert len(images) == 1, body["blocks"]
    assert "users_personalized" in images[0]["alt_text"]
    chart = requests.get(images[0]["image_url"], timeout=30)
    assert chart.status_code == 200, chart.text[:300]
    assert chart.headers["content-type"] == "image/png"
    assert chart.content[:8] == b"\x89PNG\r\n\x1a\n"
    key = f"charts/{first_form['result_set']}/{held_version}/users_personalized.png"
    assert f"/{key}" in images[0]["image_url"], images[0]["image_url"]

    buttons = next(b for b in body["blocks"] if b["type"] == "actions")["elements"]
    page = f"ui/result-sets?result_set={first_form['result_set']}"
    assert buttons[0]["url"].endswith(page), buttons
    assert buttons[1]["url"].endswith(f"{page}&promote={held_version}"), buttons
    # Asked again (a retried step), nothing more is sent.
    answer, error = recoflow.invoke(notify_function(aws), {"kind": "held", "job_id": second_id})
    assert error is None and answer["state"] == "ALREADY_NOTIFIED", answer
    assert len([m for m in slack.about(second_id) if m.get("status", 200) == 200]) == 1
    assert json.dumps(body).count("image_url") == 1
