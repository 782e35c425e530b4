"""Placements (issue 19) end to end on the local stack: PUT validates (every problem at once)
and keeps a history with who and when, a change is served within 5 s, DELETE stops serving;
an A/B 50/50 test splits users evenly (the assignment over 10,000 users is a unit test of
recoflow_core::placement::choice; here 400 users through the stack, concurrently) and keeps
each user's arm on every call and after new versions of both result sets; interleaved answers
name each item's team; rules serve new users; the CLI's placement commands."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from e2e_helpers import unique, wait_for
from placements_helpers import SERVED_WITHIN, PlacementApi, publish, two_result_sets
from test_cli import run_cli

USERS = 400


@pytest.fixture(scope="module")
def placements(api) -> PlacementApi:
    return PlacementApi(api)


def ab_document(name, a, b, **extra):
    return {"schema_version": 1, "placement": name, "n": 5,
            "experiment": {"type": "ab", "salt": "e2e", "arms": [
                {"name": "control", "result_set": a, "weight": 50},
                {"name": "candidate", "result_set": b, "weight": 50}]}, **extra}


def serve_all(placements, name, users):
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda u: placements.serve(name, f"u{u}"), range(users)))


def test_a_b_split_is_even_and_each_user_keeps_their_arm(aws, stack, placements):
    a, b = two_result_sets(aws, stack, USERS)
    name = unique("home")
    put = placements.put(name, ab_document(name, a, b))
    assert put.status_code == 201, put.text
    first = serve_all(placements, name, USERS)
    assert all(r.status_code == 200 for r in first), [r.text for r in first if r.status_code != 200][:3]
    arms = [r.json()["arm"] for r in first]
    control = arms.count("control")
    assert abs(control / USERS - 0.5) <= 0.07, f"{control} of {USERS} in control"
    for response, arm in zip(first, arms):
        body = response.json()
        prefix = a if arm == "control" else b
        assert body["items"][0]["item_id"].startswith(prefix), body
        assert set(body) >= {"placement", "user_id", "arm", "items", "source", "version", "recommendation_id"}
        assert body["version"] == "v1" and body["source"] == "personalized"
    again = serve_all(placements, name, USERS)
    assert [r.json()["arm"] for r in again] == arms, "the same arm on every call"
    # New versions of both result sets: every user keeps their arm, served from the new one.
    for rs in (a, b):
        lists = {f"u{u}": [f"{rs}-v2-u{u}-{n}" for n in range(1, 4)] for u in range(USERS)}
        publish(aws, stack, rs, "v2", lists, [f"{rs}-top"])

    def all_on_v2():
        answers = serve_all(placements, name, 40)
        return answers if all(r.json()["version"] == "v2" for r in answers) else None

    wait_for("the new versions served", all_on_v2, timeout=SERVED_WITHIN + 5)
    after = serve_all(placements, name, USERS)
    assert [r.json()["arm"] for r in after] == arms, "the same arm after new versions"


def test_a_placement_is_validated_kept_with_its_history_and_changes_live(aws, stack, placements):
    a, b = two_result_sets(aws, stack, 3)
    name = unique("detail")
    bad = ab_document(name, a, b, n=0, colour="blue")
    bad["experiment"]["arms"][1]["name"] = "control"
    refused = placements.put(name, bad)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "InvalidPlacement"
    found = {(p["path"], p["code"]) for p in error["problems"]}
    assert {("$.n", "out_of_range"), ("$.colour", "unknown_field"),
            ("$.experiment.arms[1].name", "duplicate_arm")} <= found, found
    assert placements.show(name).status_code == 404
    assert placements.put(name, {"schema_version": 1, "placement": name, "result_set": a}).status_code == 201
    assert placements.serve(name, "u1").json()["arm"] == "default"
    changed = placements.put(name, {"schema_version": 1, "placement": name, "result_set": b,
                                    "rules": [{"name": "newcomers", "when": {"user": "new"}, "result_set": a}]})
    assert changed.status_code == 200 and changed.json()["revision"] == 2
    shown = placements.show(name).json()
    assert [h["revision"] for h in shown["history"]] == [2, 1]
    assert all(h["updated_by"] and h["updated_at"] for h in shown["history"])
    wait_for("the change served", lambda: placements.serve(name, "u1").json()["items"][0]["item_id"].startswith(b),
             timeout=SERVED_WITHIN)
    stranger = placements.serve(name, "stranger").json()
    assert (stranger["arm"], stranger["source"]) == ("newcomers", "global")
    assert name in [p["placement"] for p in placements.list(limit=100).json()["placements"]]
    assert placements.delete(name).status_code == 200
    wait_for("the delete served", lambda: placements.serve(name, "u1").status_code == 404, timeout=SERVED_WITHIN)
    assert placements.delete(name).json()["error"]["code"] == "PlacementNotFound"


def test_interleaved_answers_carry_each_item_s_team(aws, stack, placements):
    a, b = two_result_sets(aws, stack, 5)
    name = unique("inter")
    document = {"schema_version": 1, "placement": name, "n": 6,
                "experiment": {"type": "interleaving", "arms": [
                    {"name": "a", "result_set": a}, {"name": "b", "result_set": b}]}}
    assert placements.put(name, document).status_code == 201
    body = placements.serve(name, "u2").json()
    assert body["arm"] == "interleaving"
    assert [x["arm"] for x in body["arms"]] == ["a", "b"]
    teams = [item["arm"] for item in body["items"]]
    assert teams.count("a") == teams.count("b") == 3
    for item in body["items"]:
        assert item["item_id"].startswith(a if item["arm"] == "a" else b), item


def test_the_cli_validates_applies_shows_and_serves_placements(aws, stack, placements, tmp_path):
    a, _ = two_result_sets(aws, stack, 2)
    name = unique("cli")
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"schema_version": 1, "placement": name, "result_set": a}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": 1, "placement": name}))
    checked = run_cli("--local", "placements", "validate", str(good), str(bad))
    assert checked.returncode == 3, checked.stdout
    assert "[nothing_to_serve]" in checked.stdout
    applied = run_cli("--local", "placements", "apply", str(good))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    shown = run_cli("--local", "--json", "placements", "show", name)
    assert json.loads(shown.stdout)["revision"] == 1
    served = run_cli("--local", "recommend-placement", name, "u1")
    assert served.returncode == 0 and f"{a}-u1-1" in served.stdout, served.stdout
    assert run_cli("--local", "placements", "show", unique("none")).returncode == 4
