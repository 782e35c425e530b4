"""Events (issue 19) end to end on the local stack: POST /events answers 202 with a result per
event; duplicate event_ids (in one request and across requests) are counted once; malformed
events are refused naming their field while the rest are accepted; a recommendation_id
signed by another deployment's key, or altered, is refused; the raw events Firehose wrote to
the events bucket are exactly the accepted ones; GET /placements/{p}/metrics has the
documented shape and the numbers of a small known event set."""

import base64
import hashlib
import hmac
import json
import math
import time

import pytest

from e2e_helpers import unique, wait_for
from placements_helpers import PlacementApi, event, two_result_sets

USERS = 12


@pytest.fixture(scope="module")
def placements(api) -> PlacementApi:
    return PlacementApi(api)


@pytest.fixture(scope="module")
def served(aws, stack, placements) -> dict:
    """An A/B placement on two fresh result sets and one answer per user: name, answers."""
    a, b = two_result_sets(aws, stack, USERS)
    name = unique("events")
    document = {"schema_version": 1, "placement": name, "n": 3,
                "experiment": {"type": "ab", "salt": "e2e-events", "arms": [
                    {"name": "control", "result_set": a}, {"name": "candidate", "result_set": b}]}}
    assert placements.put(name, document).status_code == 201
    answers = {f"u{u}": placements.serve(name, f"u{u}").json() for u in range(USERS)}
    return {"placement": name, "answers": answers}


def foreign_id(claims: dict) -> str:
    """An id in recoflow's shape, signed with a key this deployment does not have."""
    key = b"another deployment's key"
    kid = hashlib.sha256(key).hexdigest()[:8]
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    signed = f"v1.{kid}.{encoded}"
    tag = hmac.new(key, signed.encode(), hashlib.sha256).digest()[:16]
    return f"{signed}.{base64.urlsafe_b64encode(tag).rstrip(b'=').decode()}"


def raw_events(aws, stack) -> list:
    s3 = aws("s3")
    lines = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack["EventsBucket"], Prefix="events/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=stack["EventsBucket"], Key=item["Key"])["Body"].read().decode()
            lines.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return lines


def test_events_are_counted_once_refused_by_field_and_land_in_s3(aws, stack, placements, served):
    answers = served["answers"]
    tag = unique("ev")
    sent, accepted_ids = [], set()
    for user, answer in answers.items():
        rid = answer["recommendation_id"]
        sent.append(event(f"{tag}-{user}-imp", "impression", rid, user))
        sent.append(event(f"{tag}-{user}-click", "click", rid, user, item=answer["items"][0]["item_id"]))
    sent.append(dict(sent[0]))  # the same event_id again, in the same request
    malformed = event(f"{tag}-bad", "click", answers["u0"]["recommendation_id"], "u0")  # no item_id
    malformed["timestamp"] = "yesterday"
    claims = json.loads(base64.urlsafe_b64decode(answers["u0"]["recommendation_id"].split(".")[2] + "=="))
    altered = answers["u0"]["recommendation_id"].split(".")
    altered[2] = base64.urlsafe_b64encode(json.dumps({**claims, "a": [{"n": "control", "v": "v9"}]}).encode()).rstrip(b"=").decode()
    refused = [malformed,
               event(f"{tag}-foreign", "click", foreign_id(claims), "u0", item="x"),
               event(f"{tag}-altered", "click", ".".join(altered), "u0", item="x")]
    response = placements.events(sent + refused)
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["refused"]) == (2 * USERS, 1, 3), body
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(sent) + 3))
    bad = results[len(sent)]["problems"]
    assert {(p["field"], p["code"]) for p in bad} == {("item_id", "missing_field"), ("timestamp", "invalid_timestamp")}
    for r in results[len(sent) + 1:]:
        assert [(p["field"], p["code"]) for p in r["problems"]] == [("recommendation_id", "invalid_recommendation_id")]
    accepted_ids = {r["event_id"] for r in results if r["status"] == "accepted"}
    again = placements.events(sent[:3]).json()
    assert [r["status"] for r in again["results"]] == ["duplicate"] * 3, "seen in the earlier request"

    def ours():
        lines = [line for line in raw_events(aws, stack) if line["event_id"].startswith(tag)]
        return lines if len(lines) >= len(accepted_ids) else None

    lines = wait_for("the raw events in S3", ours, timeout=30)
    assert sorted(line["event_id"] for line in lines) == sorted(accepted_ids), "exactly the accepted ones, once"
    by_id = {e["event_id"]: e for e in sent}
    for line in lines:
        original = by_id[line["event_id"]]
        assert {k: line[k] for k in original} == original
        assert line["placement"] == served["placement"] and line["arms"][0]["version"] == "v1"


def wilson(successes, trials, z=1.959963984540054):
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def test_metrics_show_the_known_event_set(aws, stack, placements, served):
    name = served["placement"]
    tag = unique("m")
    events, expected = [], {}
    for user, answer in served["answers"].items():
        arm, rid = answer["arm"], answer["recommendation_id"]
        counts = expected.setdefault(arm, {"impressions": 0, "clicks": 0, "purchases": 0, "revenue": 0.0})
        for shown in range(3):
            events.append(event(f"{tag}-{user}-i{shown}", "impression", rid, user))
            counts["impressions"] += 1
        events.append(event(f"{tag}-{user}-c", "click", rid, user, item=answer["items"][0]["item_id"]))
        counts["clicks"] += 1
        if user in ("u1", "u2"):
            events.append(event(f"{tag}-{user}-p", "purchase", rid, user, item=answer["items"][0]["item_id"], value=20.0))
            counts["purchases"] += 1
            counts["revenue"] += 20.0
    baseline = placements.metrics(name).json()
    assert placements.events(events).json()["accepted"] == len(events)
    metrics = placements.metrics(name).json()
    assert metrics["placement"] == name and metrics["experiment"] == "ab"
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert metrics["to"] == today and len(metrics["arms"][0]["days"]) == 14
    assert set(metrics["test"]) == {"alpha", "ab", "mixture_scale", "interleaving"}
    before = {a["arm"]: a["total"] for a in baseline["arms"]}
    for arm in metrics["arms"]:
        total, earlier, want = arm["total"], before[arm["arm"]], expected.get(arm["arm"])
        if want is None:
            continue
        impressions = total["impressions"]
        assert impressions - earlier["impressions"] == want["impressions"]
        assert total["clicks"] - earlier["clicks"] == want["clicks"]
        assert total["purchases"] - earlier["purchases"] == want["purchases"]
        low, high = wilson(total["clicks"], impressions)
        assert math.isclose(total["ctr"]["value"], total["clicks"] / impressions)
        assert math.isclose(total["ctr"]["low"], low, abs_tol=1e-9) and math.isclose(total["ctr"]["high"], high, abs_tol=1e-9)
        assert set(total) >= {"add_to_cart_rate", "cvr", "revenue_per_impression"}
        assert arm["days"][-1]["day"] == today and arm["days"][-1]["impressions"] == impressions
    candidate = next(a for a in metrics["arms"] if a["arm"] == "candidate")
    ctr = candidate["versus_first"]["ctr"]
    assert 0.0 <= ctr["p_value"] <= 1.0 and set(ctr) == {"difference", "low", "high", "p_value", "significant"}
    refused = placements.metrics(name, **{"from": "2026-13-01"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "InvalidParameter")
    assert placements.metrics(unique("nothing")).status_code == 404


def test_over_the_limits_a_request_is_refused_naming_them(placements, served):
    rid = served["answers"]["u0"]["recommendation_id"]
    many = [event(f"x{i}", "impression", rid, "u0") for i in range(501)]
    response = placements.events(many)
    assert (response.status_code, response.json()["error"]["code"]) == (413, "TooManyEvents")
    assert "500" in response.json()["error"]["message"]
    response = placements.events(json.dumps({"events": []}))
    assert (response.status_code, response.json()["error"]["code"]) == (400, "InvalidEvents")
