"""End-to-end (issue 20, recurring forms): a form with a `schedule` block becomes an EventBridge
Scheduler schedule that the local stack fires (its clock sped up or fired by hand through
/_recoflow/faults and /_recoflow/scheduler, localstack/extension/EMULATORS.md).

- POST /jobs with a schedule answers 201 {schedule_id, next_runs (five, UTC and the zone),
  status_path}; nothing runs until a firing.
- A `rate(1 minute)` schedule fires twice in 2.5 minutes of its (sped-up) clock: two jobs whose
  ids are derived from the schedule and each firing's time; paused, it fires no more (its
  Scheduler schedule DISABLED); the queued second job starts when the first ends.
- A firing while the previous job still runs (`overlap: skip`) is a SKIPPED job naming it; the
  same firing delivered again starts nothing.
- PATCH and DELETE (the Scheduler schedule disabled, then gone; GET is 404); bad schedule blocks
  are 400 naming each field.
"""

import hashlib
import json
import time
from datetime import datetime, timedelta, timezone

import requests

from e2e_helpers import FINAL_STATUSES, unique, wait_for

REGION, ACCOUNT = "us-east-1", "000000000000"


def firing_job_id(job_name: str, schedule_id: str, scheduled_time: str) -> str:
    """The job id a firing gets (recoflow_core::job::JobId::for_firing), computed here."""
    at = datetime.strptime(scheduled_time, "%Y-%m-%dT%H:%M:%SZ").strftime("%Y%m%dt%H%M%Sz")
    digest = hashlib.sha256()
    for part in ("schedule", schedule_id, at):
        digest.update(len(part.encode()).to_bytes(8, "big") + part.encode())
    stem = "".join(c.lower() if c.isascii() and c.isalnum() else "-" for c in job_name)[:40].strip("-")
    return f"{stem}-{at}-{digest.hexdigest()[:20]}"


class Scheduler:
    """The emulator's scheduler clock and controls."""

    def __init__(self, endpoint: str, group: str):
        self.base = endpoint.rstrip("/") + "/_recoflow/scheduler"
        self.group = group

    def target(self, schedule_id: str) -> dict:
        return {"name": schedule_id, "group": self.group, "account": ACCOUNT, "region": REGION}

    def arn(self, schedule_id: str) -> str:
        return f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{self.group}/{schedule_id}"

    def state(self, schedule_id: str) -> dict:
        answer = requests.get(self.base, params={"schedule_arn": self.arn(schedule_id)}, timeout=10).json()
        return {"clock": answer["clock"], "schedule": (answer["schedules"] or [None])[0]}

    def now(self) -> datetime:
        clock = requests.get(self.base, timeout=10).json()["clock"]
        return datetime.fromisoformat(clock["now"].replace("Z", "+00:00"))

    def fire(self, schedule_id: str) -> dict:
        response = requests.post(self.base + "/fire", data=json.dumps(self.target(schedule_id)), timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["firing"]

    def redeliver(self, schedule_id: str) -> dict:
        response = requests.post(self.base + "/redeliver", data=json.dumps(self.target(schedule_id)), timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["firing"]


def schedules_api(api):
    base = api.base

    class Calls:
        @staticmethod
        def get(path: str) -> requests.Response:
            return api.http.get(f"{base}{path}", timeout=30)

        @staticmethod
        def patch(path: str, body: dict) -> requests.Response:
            return api.http.patch(f"{base}{path}", data=json.dumps(body), headers={"content-type": "application/json"}, timeout=30)

        @staticmethod
        def delete(path: str) -> requests.Response:
            return api.http.delete(f"{base}{path}", timeout=30)

    return Calls


def create(api, form: dict) -> dict:
    response = api.post_job(form, key=unique("schedule-key"))
    assert response.status_code == 201, response.text
    return response.json()


def runs_of(calls, schedule_id: str) -> list:
    answer = calls.get(f"/schedules/{schedule_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()["last_runs"]


def wait_runs(calls, schedule_id: str, count: int, timeout: float = 30) -> list:
    """The schedule's runs once it has `count` (firings reach the function asynchronously)."""

    def probe():
        runs = runs_of(calls, schedule_id)
        return runs if len(runs) >= count else None

    return wait_for(f"{count} run(s) of {schedule_id}", probe, timeout)


def wait_fired_job(api, job_id: str, predicate, timeout: float = 30) -> dict:
    """A fired job once it exists and predicate(job): the firing reaches the function
    asynchronously, so its job may not be there yet."""

    def probe():
        response = api.get_job(job_id)
        return response.json() if response.status_code == 200 and predicate(response.json()) else None

    return wait_for(f"job {job_id}", probe, timeout)


def test_a_recurring_form_answers_201_with_its_next_five_runs_and_runs_nothing(api, make_form, endpoint, stack):
    calls = schedules_api(api)
    form = make_form(schedule={"expression": "cron(0 3 ? * MON *)", "timezone": "Asia/Tokyo"})
    body = create(api, form)
    assert set(body) == {"schedule_id", "next_runs", "status_path", "replayed"}, body
    schedule_id = body["schedule_id"]
    assert body["status_path"] == f"/schedules/{schedule_id}" and body["replayed"] is False
    assert len(body["next_runs"]) == 5
    for run in body["next_runs"]:
        utc = datetime.fromisoformat(run["utc"].replace("Z", "+00:00"))
        local = datetime.fromisoformat(run["local"])
        assert (local.utcoffset(), local.hour, local.minute, local.weekday()) == (timedelta(hours=9), 3, 0, 0), run
        assert utc == local and utc > datetime.now(timezone.utc), run
    # The emulator agrees with the Rust next firing (its own cron reading, in its zone).
    scheduler = Scheduler(endpoint, stack["ScheduleGroup"])
    emulated = scheduler.state(schedule_id)["schedule"]
    assert emulated["state"] == "ENABLED" and emulated["timezone"] == "Asia/Tokyo", emulated
    assert emulated["next_firing"].replace("+00:00", "Z").startswith(body["next_runs"][0]["utc"][:19]), emulated
    shown = calls.get(f"/schedules/{schedule_id}").json()
    assert shown["form"]["job_name"] == form["job_name"] and shown["last_runs"] == [], shown
    listed = calls.get("/schedules?limit=100").json()["schedules"]
    assert any(s["schedule_id"] == schedule_id and s["next_run"] == body["next_runs"][0] for s in listed), listed
    assert calls.delete(f"/schedules/{schedule_id}").status_code == 200


def test_bad_schedule_blocks_are_400_naming_each_field(api, make_form):
    cases = [
        ({"expression": "cron(0 3 * * MON)"}, "$.schedule.expression", "invalid_schedule_expression"),
        ({"expression": "rate(0 minutes)"}, "$.schedule.expression", "invalid_schedule_expression"),
        ({"expression": "rate(1 day)", "timezone": "Mars/Base"}, "$.schedule.timezone", "unknown_time_zone"),
        ({"expression": "rate(1 day)", "start": "2030-06-02T00:00:00Z", "end": "2030-06-01T00:00:00Z"},
         "$.schedule.end", "end_before_start"),
        ({"expression": "rate(1 day)", "start": "tomorrow"}, "$.schedule.start", "invalid_date"),
        ({"expression": "rate(1 day)", "start": "2020-01-01T00:00:00Z"}, "$.schedule.start", "in_the_past"),
        ({"expression": "rate(1 day)", "overlap": "sometimes"}, "$.schedule.overlap", "invalid_choice"),
        ({"timezone": "UTC"}, "$.schedule.expression", "missing_field"),
    ]
    for block, path, code in cases:
        response = api.post_job(make_form(schedule=block))
        assert response.status_code == 400, (block, response.text)
        problems = response.json()["error"]["problems"]
        assert {"path": path, "code": code} in [{"path": p["path"], "code": p["code"]} for p in problems], (block, problems)


def test_a_rate_schedule_fires_twice_in_two_and_a_half_minutes_then_paused_fires_no_more(
    api, make_form, recoflow, faults, endpoint, stack
):
    calls = schedules_api(api)
    scheduler = Scheduler(endpoint, stack["ScheduleGroup"])
    faults.set({"scheduler": {"auto_fire": False}})
    # Firings 45 s and 105 s into the window: exactly two before 150 s.
    window_start = scheduler.now()
    start = (window_start + timedelta(seconds=45)).replace(microsecond=0)
    # force: the second job runs the same form on the same data, which would otherwise be
    # SKIPPED as unchanged; here it is the queue that is tested.
    form = make_form(schedule={"expression": "rate(1 minute)", "start": start.isoformat().replace("+00:00", "Z"),
                               "overlap": "queue"}, force=True)
    schedule_id = create(api, form)["schedule_id"]
    # 30x: the window's end (150 s) is 15 scheduler seconds, half a real second, before the
    # third firing; at its end firing stops in the same call as the clock slows, so however
    # long the checks below take on a loaded machine no third firing comes before the pause.
    faults.set({"scheduler": {"auto_fire": True, "time_scale": 30}})
    wait_for("2.5 minutes of the scheduler's clock",
             lambda: scheduler.now() >= window_start + timedelta(seconds=150), timeout=30, interval=0.05)
    faults.set({"scheduler": {"time_scale": 1, "auto_fire": False}})
    # The firings reach the function asynchronously: wait for both runs.
    runs = wait_runs(calls, schedule_id, 2)
    times = sorted(r["scheduled_time"] for r in runs)
    expected = [(start + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ") for m in (0, 1)]
    assert times == expected, runs
    job_ids = {r["scheduled_time"]: r["job_id"] for r in runs}
    assert job_ids == {t: firing_job_id(form["job_name"], schedule_id, t) for t in expected}, job_ids
    for job_id in job_ids.values():
        job = recoflow.job(job_id)
        assert job["source"] == {"kind": "schedule", "schedule_id": schedule_id,
                                 "scheduled_time": next(t for t, j in job_ids.items() if j == job_id)}, job

    paused = calls.patch(f"/schedules/{schedule_id}", {"state": "PAUSED"})
    assert paused.status_code == 200 and paused.json()["state"] == "PAUSED" and paused.json()["next_runs"] == []
    emulated = scheduler.state(schedule_id)["schedule"]
    assert emulated["state"] == "DISABLED" and emulated["next_firing"] is None, emulated
    before = scheduler.now()
    faults.set({"scheduler": {"time_scale": 60, "auto_fire": True}})
    wait_for("3 more minutes", lambda: scheduler.now() >= before + timedelta(minutes=3), timeout=30, interval=0.2)
    faults.set({"scheduler": {"time_scale": 1}})
    time.sleep(2)
    assert len(runs_of(calls, schedule_id)) == 2, "a paused schedule fired"
    # The second job waited for the first (overlap: queue) and started when it ended.
    for job_id in job_ids.values():
        ended = recoflow.wait_job(job_id, "its end", lambda j: j["status"] in FINAL_STATUSES, timeout=240)
        assert ended["status"] == "SUCCEEDED", ended
    assert calls.delete(f"/schedules/{schedule_id}").status_code == 200
    assert scheduler.state(schedule_id)["schedule"] is None
    assert calls.get(f"/schedules/{schedule_id}").json()["error"]["code"] == "ScheduleNotFound"


def test_a_firing_while_the_last_job_runs_is_skipped_and_a_redelivered_firing_starts_nothing(
    api, make_form, recoflow, faults, endpoint, stack
):
    calls = schedules_api(api)
    scheduler = Scheduler(endpoint, stack["ScheduleGroup"])
    # Long Personalize jobs: the first job still runs at the second firing.
    faults.set({"scheduler": {"auto_fire": False}, "durations": {"personalize": 8.0}})
    form = make_form(schedule={"expression": "rate(1 minute)", "overlap": "skip"})
    schedule_id = create(api, form)["schedule_id"]

    first = scheduler.fire(schedule_id)
    runs = wait_runs(calls, schedule_id, 1)
    first_job = runs[0]["job_id"]
    assert first_job == firing_job_id(form["job_name"], schedule_id, first["scheduled_time"]), runs
    # The same firing again (at-least-once delivery): the same job, one execution.
    scheduler.redeliver(schedule_id)
    time.sleep(3)
    assert [r["job_id"] for r in runs_of(calls, schedule_id)] == [first_job]
    executions = recoflow.aws("stepfunctions").list_executions(stateMachineArn=stack["StateMachineArn"])["executions"]
    assert [e["name"] for e in executions].count(first_job) == 1

    recoflow.wait_job(first_job, "running", lambda j: j["status"] not in ("RECEIVED", "QUEUED"), timeout=60)
    second = scheduler.fire(schedule_id)
    second_job = firing_job_id(form["job_name"], schedule_id, second["scheduled_time"])
    skipped = wait_fired_job(api, second_job, lambda j: j["status"] == "SKIPPED")
    assert skipped["skipped"]["cause"] == "overlap" and skipped["skipped"]["job_id"] == first_job, skipped
    assert first_job in skipped["skipped"]["reason"], skipped
    assert recoflow.job(first_job)["status"] not in FINAL_STATUSES, "the first job was meant to still run"
    runs = runs_of(calls, schedule_id)
    assert [(r["job_id"], r["outcome"], r["status"]) for r in runs][0] == (second_job, "SKIPPED", "SKIPPED"), runs
    # Deleting the schedule leaves its running job alone.
    deleted = calls.delete(f"/schedules/{schedule_id}")
    assert deleted.status_code == 200 and first_job in deleted.json()["running_jobs_untouched"], deleted.text
    assert recoflow.job(first_job)["status"] != "CANCELLED"
    faults.set({"durations": faults.baseline["durations"]})
