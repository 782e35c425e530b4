"""EventBridge Scheduler on the local stack: schedules fire (recoflow_localstack/scheduler/).

The first half holds the expression rules (next firings of cron, rate and at expressions in
their time zone, daylight saving time, StartDate/EndDate) against the extension's own module;
the second half runs against the stack: requests refused as the service refuses them, firing
on a faster clock, disabled schedules, at() once and ActionAfterCompletion, retries and the
dead-letter queue, the fire/redeliver controls, Lambda and Step Functions targets.
"""

import io
import json
import sys
import time
import urllib.error
import urllib.request
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from emu_helpers import fresh_account, unique, wait_for
from recoflow_localstack.scheduler.expressions import ExpressionError, Timing, parse, time_zone

UTC = timezone.utc
NEW_YORK, TOKYO = time_zone("America/New_York"), time_zone("Asia/Tokyo")
ROLE = "arn:aws:iam::000000000000:role/scheduler"
CONTEXT_INPUT = json.dumps({
    "scheduled": "<aws.scheduler.scheduled-time>", "execution": "<aws.scheduler.execution-id>",
    "attempt": "<aws.scheduler.attempt-number>", "schedule": "<aws.scheduler.schedule-arn>",
})


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def firings(expression: str, zone, after: str, count: int, **bounds) -> list[str]:
    timing = Timing(parse(expression), zone, **{k: z(v) for k, v in bounds.items()})
    return [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in timing.upcoming(z(after), count)]


# --- expressions (in process) ----------------------------------------------------------------


def test_cron_in_new_york_skips_a_time_the_spring_change_removes():
    # 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that day
    assert firings("cron(30 2 * * ? *)", NEW_YORK, "2026-03-06T12:00:00Z", 3) == [
        "2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"]
    # the hours around the gap are there, at their new offset
    assert firings("cron(0 * * * ? *)", NEW_YORK, "2026-03-08T05:30:00Z", 3) == [
        "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"]  # 01:00 EST, 03:00 EDT, 04:00 EDT


def test_cron_in_new_york_fires_once_in_the_hour_the_autumn_change_repeats():
    # 2026-11-01: 02:00 EDT goes back to 01:00 EST; 01:30 happens twice, the schedule fires at the first
    assert firings("cron(30 1 * * ? *)", NEW_YORK, "2026-10-31T00:00:00Z", 3) == [
        "2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]
    assert firings("cron(0/30 * * * ? *)", NEW_YORK, "2026-11-01T04:00:00Z", 6) == [
        "2026-11-01T04:00:00Z", "2026-11-01T04:30:00Z", "2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z",
        "2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z"]  # 00:00 .. 01:30 EDT, then 02:00 EST
    # from inside the repeated hour's second pass, nothing of that hour fires again
    assert firings("cron(45 1 * * ? *)", NEW_YORK, "2026-11-01T06:10:00Z", 1) == ["2026-11-02T06:45:00Z"]


def test_cron_in_tokyo_and_utc():
    assert firings("cron(0 3 ? * MON *)", TOKYO, "2026-12-01T00:00:00Z", 2) == [
        "2026-12-06T18:00:00Z", "2026-12-13T18:00:00Z"]  # Monday 03:00 JST is Sunday 18:00 UTC
    assert firings("cron(0 3 ? * MON *)", time_zone("UTC"), "2026-12-01T00:00:00Z", 1) == ["2026-12-07T03:00:00Z"]


def test_rate_counts_elapsed_time_across_daylight_saving_changes():
    timing = Timing(parse("rate(1 day)"), NEW_YORK, anchor=z("2026-03-07T12:00:00Z"))
    fired = timing.upcoming(z("2026-03-07T12:00:00Z"), 3)
    assert [t.strftime("%H:%M") for t in fired] == ["12:00", "12:00", "12:00"]  # 24 h apart in UTC
    assert [t.astimezone(NEW_YORK).strftime("%H:%M %Z") for t in fired] == ["07:00 EST", "08:00 EDT", "08:00 EDT"]
    assert firings("rate(90 minutes)", NEW_YORK, "2026-11-01T04:00:00Z", 3, start="2026-11-01T04:00:00Z") == [
        "2026-11-01T04:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z"]


def test_at_fires_once_at_its_wall_clock_time_in_the_zone():
    assert firings("at(2026-12-24T09:00:00)", TOKYO, "2026-01-01T00:00:00Z", 3) == ["2026-12-24T00:00:00Z"]
    # a time the spring change removes: the instant the offset before the change gives (03:30 EDT)
    assert firings("at(2026-03-08T02:30:00)", NEW_YORK, "2026-01-01T00:00:00Z", 1) == ["2026-03-08T07:30:00Z"]
    # a repeated time: its first occurrence (EDT)
    assert firings("at(2026-11-01T01:30:00)", NEW_YORK, "2026-01-01T00:00:00Z", 1) == ["2026-11-01T05:30:00Z"]


def test_start_and_end_dates_bound_recurring_schedules_only():
    assert firings("cron(0 12 * * ? *)", time_zone("UTC"), "2026-06-01T00:00:00Z", 5,
                   start="2026-06-03T12:00:00Z", end="2026-06-05T12:00:00Z") == [
        "2026-06-03T12:00:00Z", "2026-06-04T12:00:00Z", "2026-06-05T12:00:00Z"]
    assert firings("rate(7 days)", time_zone("UTC"), "2026-06-01T00:00:00Z", 5,
                   start="2026-06-02T08:00:00Z", end="2026-06-20T00:00:00Z") == [
        "2026-06-02T08:00:00Z", "2026-06-09T08:00:00Z", "2026-06-16T08:00:00Z"]
    # one-time schedules ignore both, as the service documents
    assert firings("at(2026-07-01T00:00:00)", time_zone("UTC"), "2026-06-01T00:00:00Z", 1,
                   start="2026-08-01T00:00:00Z", end="2026-06-02T00:00:00Z") == ["2026-07-01T00:00:00Z"]


@pytest.mark.parametrize("expression,expected", [
    ("cron(0 12 L * ? 2026)", ["2026-01-31", "2026-02-28", "2026-03-31"]),
    ("cron(0 12 LW * ? 2026)", ["2026-01-30", "2026-02-27", "2026-03-31"]),
    ("cron(0 12 15W * ? 2026)", ["2026-01-15", "2026-02-16", "2026-03-16"]),  # Feb 15 is a Sunday
    ("cron(0 12 ? * 6#3 2026)", ["2026-01-16", "2026-02-20", "2026-03-20"]),  # third Friday
    ("cron(0 12 ? * 2L 2026)", ["2026-01-26", "2026-02-23", "2026-03-30"]),  # last Monday
    ("cron(0 12 1,15 JAN-FEB ? 2026)", ["2026-01-01", "2026-01-15", "2026-02-01"]),
    ("cron(0 12 ? * SAT,SUN 2026)", ["2026-01-03", "2026-01-04", "2026-01-10"]),
    ("cron(0 12 */10 * ? 2026)", ["2026-01-01", "2026-01-11", "2026-01-21"]),
])
def test_cron_day_wildcards(expression, expected):
    assert [f[:10] for f in firings(expression, time_zone("UTC"), "2026-01-01T00:00:00Z", 3)] == expected


@pytest.mark.parametrize("expression,problem", [
    ("cron(0 3 * * *)", "6 fields"),
    ("cron(0 3 * * * *)", "exactly one of day-of-month and day-of-week"),
    ("cron(0 3 ? * ? *)", "exactly one of day-of-month and day-of-week"),
    ("cron(60 3 * * ? *)", "minutes value 60 is out of range 0-59"),
    ("cron(0 24 * * ? *)", "hours value 24"),
    ("cron(0 3 32 * ? *)", "day-of-month value 32"),
    ("cron(0 3 ? 13 MON *)", "month value 13"),
    ("cron(0 3 ? * 8 *)", "day-of-week value 8"),
    ("cron(0 3 * * ? 1969)", "year value 1969"),
    ("cron(*/60 * * * ? *)", "increment 60"),
    ("cron(0/0 * * * ? *)", "increment"),
    ("cron(30-10 * * * ? *)", "runs backwards"),
    ("cron(0 3 ? * 2#6 *)", "after '#'"),
    ("cron(0 3 ? * 2#1,3 *)", "one expression only"),
    ("cron(0 3 ? * FUNDAY *)", "FUNDAY"),
    ("cron(0 3 1,,2 * ? *)", "empty list item"),
    ("cron(nonsense)", "6 fields"),
    ("rate(0 minutes)", "not a positive integer"),
    ("rate(-1 minutes)", "rate(value unit)"),
    ("rate(1.5 hours)", "rate(value unit)"),
    ("rate(2 weeks)", "rate unit 'weeks'"),
    ("rate(5minutes)", "rate(value unit)"),
    ("at(2026-02-30T00:00:00)", "day is out of range"),
    ("at(2026-12-01 03:00:00)", "at(yyyy-mm-ddThh:mm:ss)"),
    ("every(5 minutes)", "cron(...), rate(...) or at(...)"),
    ("", "cron(...), rate(...) or at(...)"),
])
def test_expressions_the_service_refuses(expression, problem):
    with pytest.raises(ExpressionError) as refused:
        parse(expression)
    assert problem in str(refused.value)


def test_time_zone_names_are_the_iana_database():
    for name in ("UTC", "America/New_York", "Asia/Tokyo", "Europe/London", "US/Eastern"):
        assert time_zone(name).key == name
    for name in ("Mars/Base", "", "localtime", "posixrules", "../etc/passwd", "EST+5"):
        with pytest.raises(ExpressionError):
            time_zone(name)


# --- the stack ---------------------------------------------------------------------------------


def control(endpoint: str, method: str, path: str = "", body=None) -> tuple[int, dict]:
    req = urllib.request.Request(f"{endpoint}/_recoflow/scheduler{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


@pytest.fixture(scope="module")
def world(client_for):
    """An account of its own: scheduler, Step Functions (a Pass state machine), SQS clients."""
    account = fresh_account()
    clients = {s: client_for(s, account) for s in ("scheduler", "stepfunctions", "sqs", "lambda")}
    clients["unchecked"] = client_for("scheduler", account, checked=False)
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    clients["state_machine"] = clients["stepfunctions"].create_state_machine(
        name=unique("fired"), definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    clients["account"] = account
    yield clients
    for schedule in clients["scheduler"].list_schedules()["Schedules"]:
        clients["scheduler"].delete_schedule(Name=schedule["Name"], GroupName=schedule["GroupName"])


def new_machine(world) -> str:
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    return world["stepfunctions"].create_state_machine(
        name=unique("fired"), definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]


def inputs(world, machine: str) -> list[dict]:
    """The inputs of the machine's executions, oldest first."""
    sfn = world["stepfunctions"]
    executions = sorted(sfn.list_executions(stateMachineArn=machine)["executions"], key=lambda e: e["startDate"])
    return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]


def create(world, expression: str, target_arn: str | None = None, **extra) -> str:
    target = {"Arn": target_arn or world["state_machine"], "RoleArn": ROLE, "Input": CONTEXT_INPUT,
              **extra.pop("target", {})}
    return world["scheduler"].create_schedule(
        Name=unique("sched"), ScheduleExpression=expression, FlexibleTimeWindow=extra.pop("window", {"Mode": "OFF"}),
        Target=target, **extra)["ScheduleArn"]


def name_of(arn: str) -> str:
    return arn.rsplit("/", 1)[1]


def clock_now(endpoint: str) -> datetime:
    return z(control(endpoint, "GET")[1]["clock"]["now"])


def code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def refused(call) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


IN_A_DAY = datetime.now(tz=UTC) + timedelta(days=1)


@pytest.mark.parametrize("changes,message", [
    ({"ScheduleExpression": "cron(0 3 * * *)"}, "Invalid Schedule Expression cron(0 3 * * *): a cron expression has 6 fields"),
    ({"ScheduleExpression": "rate(0 minutes)"}, "Invalid Schedule Expression rate(0 minutes): rate value 0"),
    ({"ScheduleExpression": "cron(0 3 ? * MON *)", "ScheduleExpressionTimezone": "Mars/Base"}, "'Mars/Base' is not an IANA time zone"),
    ({"ScheduleExpression": "rate(1 hour)", "StartDate": datetime.now(tz=UTC) - timedelta(days=1)},
     "The StartDate you specify cannot be earlier than 5 minutes ago."),
    ({"ScheduleExpression": "rate(1 hour)", "StartDate": IN_A_DAY, "EndDate": IN_A_DAY - timedelta(hours=1)},
     "must be later than the StartDate"),
    ({"ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": {"Mode": "FLEXIBLE"}}, "MaximumWindowInMinutes is required"),
    ({"ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": {"Mode": "OFF", "MaximumWindowInMinutes": 5}}, "must not be set"),
    ({"ScheduleExpression": "rate(1 hour)", "Target": {"Arn": "x", "RoleArn": ROLE, "RetryPolicy": {"MaximumRetryAttempts": 186}}},
     "Value '186' at 'target.retryPolicy.maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 185"),
    ({"ScheduleExpression": "rate(1 hour)", "Target": {"Arn": "x", "RoleArn": "arn:aws:iam::000000000000:user/bob"}}, "at 'target.roleArn'"),
])
def test_create_schedule_refuses_what_the_service_refuses(world, changes, message):
    request = {"Name": unique("bad"), "ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": {"Mode": "OFF"},
               "Target": {"Arn": world["state_machine"], "RoleArn": ROLE}, **changes}
    error = refused(lambda: world["unchecked"].create_schedule(**request))
    assert code(error) == "ValidationException" and error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message in error.response["Error"]["Message"]
    assert refused(lambda: world["scheduler"].get_schedule(Name=request["Name"])).response["Error"]["Code"] == "ResourceNotFoundException"


def test_update_schedule_is_checked_too_and_keeps_action_after_completion(world):
    scheduler = world["scheduler"]
    arn = create(world, "cron(0 3 ? * MON *)", State="DISABLED")
    base = {"Name": name_of(arn), "FlexibleTimeWindow": {"Mode": "OFF"}, "Target": {"Arn": world["state_machine"], "RoleArn": ROLE}}
    error = refused(lambda: scheduler.update_schedule(ScheduleExpression="cron(nonsense)", **base))
    assert code(error) == "ValidationException" and "cron(nonsense)" in error.response["Error"]["Message"]
    assert scheduler.get_schedule(Name=name_of(arn))["ScheduleExpression"] == "cron(0 3 ? * MON *)"
    scheduler.update_schedule(ScheduleExpression="cron(0-15/1 8-8 ? * 2,3,4,5,6,7 *)", ActionAfterCompletion="DELETE",
                              ScheduleExpressionTimezone="Asia/Tokyo", **base)
    stored = scheduler.get_schedule(Name=name_of(arn))
    # LocalStack's own checks refuse a range with an increment; the service does not
    assert stored["ScheduleExpression"] == "cron(0-15/1 8-8 ? * 2,3,4,5,6,7 *)"
    assert stored["ActionAfterCompletion"] == "DELETE" and stored["State"] == "ENABLED"


def test_an_unknown_group_is_not_found(world):
    error = refused(lambda: create(world, "rate(1 hour)", GroupName="no-such-group"))
    assert code(error) == "ResourceNotFoundException"
    assert error.response["Error"]["Message"] == "Schedule group no-such-group does not exist."


def test_a_rate_schedule_fires_every_minute_of_a_clock_sixty_times_faster(world, endpoint, faults):
    faults({"scheduler": {"time_scale": 60}})
    machine = new_machine(world)
    arn = create(world, "rate(1 minute)", machine)
    fired = wait_for(lambda: inputs(world, machine), lambda found: len(found) >= 2, timeout=10, interval=0.2)
    first, second = z(fired[0]["scheduled"]), z(fired[1]["scheduled"])
    assert second - first == timedelta(minutes=1)
    assert fired[0]["schedule"] == arn and fired[0]["attempt"] == "1"
    assert len({f["execution"] for f in fired}) == len(fired) and len(fired[0]["execution"]) == 16
    world["scheduler"].update_schedule(Name=name_of(arn), ScheduleExpression="rate(1 minute)", State="DISABLED",
                                       FlexibleTimeWindow={"Mode": "OFF"}, Target={"Arn": machine, "RoleArn": ROLE})
    time.sleep(0.5)
    paused = len(inputs(world, machine))
    time.sleep(2.0)  # two minutes of the schedule's clock
    assert len(inputs(world, machine)) == paused


def test_a_disabled_schedule_does_not_fire(world, endpoint, faults):
    faults({"scheduler": {"time_scale": 600}})
    machine = new_machine(world)
    arn = create(world, "rate(1 minute)", machine, State="DISABLED")
    time.sleep(1.5)  # fifteen minutes of the schedule's clock
    assert inputs(world, machine) == []
    status, answer = control(endpoint, "POST", "/fire", {"schedule_arn": arn})
    assert status == 409 and "DISABLED" in answer["error"]
    status, state = control(endpoint, "GET", f"?schedule_arn={arn}")
    assert state["schedules"][0]["next_firing"] is None and state["schedules"][0]["firings"] == []


def test_an_at_schedule_fires_once_in_its_zone_then_is_deleted(world, endpoint, faults):
    faults({"scheduler": {"time_scale": 60}})
    machine = new_machine(world)
    when = (clock_now(endpoint) + timedelta(seconds=40)).replace(microsecond=0)
    local = when.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M:%S")
    arn = create(world, f"at({local})", machine, ScheduleExpressionTimezone="Asia/Tokyo", ActionAfterCompletion="DELETE")
    kept = create(world, f"at({local})", machine, ScheduleExpressionTimezone="Asia/Tokyo", ActionAfterCompletion="NONE")
    fired = wait_for(lambda: inputs(world, machine), lambda found: len(found) >= 2, timeout=10, interval=0.2)
    assert sorted(f["schedule"] for f in fired) == sorted([arn, kept])
    assert {f["scheduled"] for f in fired} == {when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    wait_for(lambda: refused_or_none(lambda: world["scheduler"].get_schedule(Name=name_of(arn))),
             lambda error: error is not None and code(error) == "ResourceNotFoundException", timeout=5)
    assert world["scheduler"].get_schedule(Name=name_of(kept))["State"] == "ENABLED"
    time.sleep(1.0)
    assert len(inputs(world, machine)) == 2  # once each
    assert control(endpoint, "GET", f"?schedule_arn={kept}")[1]["schedules"][0]["next_firing"] is None


def refused_or_none(call) -> ClientError | None:
    try:
        call()
    except ClientError as e:
        return e
    return None


def test_fire_now_and_redeliver_the_same_firing(world, endpoint, faults):
    faults({"scheduler": {"auto_fire": False}})
    machine = new_machine(world)
    arn = create(world, "cron(0 3 ? * MON *)", machine, ScheduleExpressionTimezone="Asia/Tokyo")
    status, state = control(endpoint, "GET", f"?schedule_arn={arn}")
    next_firing = state["schedules"][0]["next_firing"]
    assert z(next_firing).astimezone(TOKYO).strftime("%a %H:%M") == "Mon 03:00"
    status, answer = control(endpoint, "POST", "/fire", {"name": name_of(arn), "account": world["account"]})
    assert status == 200, answer
    firing = answer["firing"]
    assert firing["scheduled_time"] == next_firing and firing["outcome"] == "SUCCEEDED"
    assert firing["attempts"][0]["response"]["executionArn"].startswith(machine.replace(":stateMachine:", ":execution:"))
    status, again = control(endpoint, "POST", "/redeliver", {"schedule_arn": arn})
    assert status == 200 and again["firing"]["redeliveries"][0]["outcome"] == "SUCCEEDED"
    first, duplicate = inputs(world, machine)
    assert first == duplicate  # the same event: scheduled time, execution id, attempt number
    assert first["scheduled"] == next_firing
    # the next firing is a week later
    assert control(endpoint, "GET", f"?schedule_arn={arn}")[1]["schedules"][0]["next_firing"] == \
        (z(next_firing) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert control(endpoint, "POST", "/redeliver", {"schedule_arn": arn, "scheduled_time": "2020-01-01T00:00:00Z"})[0] == 404
    assert control(endpoint, "POST", "/fire", {"schedule_arn": arn.replace(name_of(arn), "nope")})[0] == 404
    assert control(endpoint, "POST", "/fire", {})[0] == 400
    assert control(endpoint, "POST", "/bogus", {"schedule_arn": arn})[0] == 404


@pytest.fixture
def dead_letter_queue(world):
    sqs = world["sqs"]
    url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def receive() -> list[dict]:
        return sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], MaxNumberOfMessages=10,
                                   WaitTimeSeconds=1).get("Messages", [])

    return arn, receive


def attributes(message: dict) -> dict:
    return {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}


def test_failed_calls_are_retried_then_sent_to_the_dead_letter_queue(world, endpoint, faults, dead_letter_queue):
    faults({"scheduler": {"auto_fire": False, "retry_base_seconds": 0.1}, "fail_next": {"scheduler": 3}})
    queue, receive = dead_letter_queue
    machine = new_machine(world)
    arn = create(world, "rate(1 hour)", machine, target={
        "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}, "DeadLetterConfig": {"Arn": queue}})
    firing = control(endpoint, "POST", "/fire", {"schedule_arn": arn})[1]["firing"]
    assert firing["outcome"] == "RETRYING" and firing["attempts"][0]["error"]["code"] == "InjectedFailure"
    messages = wait_for(receive, lambda found: found, timeout=10)
    dead = attributes(messages[0])
    assert dead["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts" and dead["RETRY_ATTEMPTS"] == "2"
    assert dead["ERROR_CODE"] == "InjectedFailure" and dead["SCHEDULE_ARN"] == arn and dead["TARGET_ARN"] == machine
    assert dead["EXECUTION_ID"] == firing["execution_id"] and dead["SCHEDULED_TIME"] == firing["scheduled_time"]
    body = json.loads(messages[0]["Body"])
    assert body["attempt"] == "3" and body["scheduled"] == firing["scheduled_time"]  # the last attempt's input
    assert inputs(world, machine) == []
    state = control(endpoint, "GET", f"?schedule_arn={arn}")[1]["schedules"][0]["firings"][-1]
    assert state["outcome"] == "DEAD_LETTERED" and [a["outcome"] for a in state["attempts"]] == ["FAILED"] * 3


def test_a_retry_that_succeeds_delivers_once(world, endpoint, faults):
    faults({"scheduler": {"auto_fire": False, "retry_base_seconds": 0.1}, "fail_next": {"scheduler": 1}})
    machine = new_machine(world)
    arn = create(world, "rate(1 hour)", machine)
    control(endpoint, "POST", "/fire", {"schedule_arn": arn})
    fired = wait_for(lambda: inputs(world, machine), lambda found: found, timeout=10, interval=0.2)
    assert [f["attempt"] for f in fired] == ["2"]


def test_retries_stop_at_the_maximum_event_age(world, endpoint, faults, dead_letter_queue):
    # the retry delays (20 s, 40 s, 80 s of the clock, halved at worst by jitter) pass 60 s by the fourth attempt
    faults({"scheduler": {"auto_fire": False, "retry_base_seconds": 20, "time_scale": 200}, "fail_next": {"scheduler": 50}})
    queue, receive = dead_letter_queue
    arn = create(world, "rate(1 hour)", target={
        "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 60}, "DeadLetterConfig": {"Arn": queue}})
    control(endpoint, "POST", "/fire", {"schedule_arn": arn})
    dead = attributes(wait_for(receive, lambda found: found, timeout=10)[0])
    assert dead["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    assert 1 <= int(dead["RETRY_ATTEMPTS"]) <= 3


def test_a_missing_target_goes_to_the_dead_letter_queue_without_retries(world, endpoint, faults, dead_letter_queue):
    faults({"scheduler": {"auto_fire": False}})
    queue, receive = dead_letter_queue
    missing = world["state_machine"].rsplit(":", 1)[0] + ":no-such-machine"
    arn = create(world, "rate(1 hour)", missing, target={"DeadLetterConfig": {"Arn": queue}})
    firing = control(endpoint, "POST", "/fire", {"schedule_arn": arn})[1]["firing"]
    assert firing["outcome"] == "DEAD_LETTERED" and len(firing["attempts"]) == 1
    dead = attributes(wait_for(receive, lambda found: found, timeout=10)[0])
    assert dead["ERROR_CODE"] == "StateMachineDoesNotExist" and dead["RETRY_ATTEMPTS"] == "0"
    assert "EXHAUSTED_RETRY_CONDITION" not in dead


def test_a_flexible_window_fires_within_the_window(world, endpoint, faults):
    faults({"scheduler": {"time_scale": 600}})
    machine = new_machine(world)
    arn = create(world, "rate(1 hour)", machine, window={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5})
    fired = wait_for(lambda: control(endpoint, "GET", f"?schedule_arn={arn}")[1]["schedules"][0]["firings"],
                     lambda found: found and found[0]["attempts"], timeout=10, interval=0.1)[0]
    assert 0 <= (z(fired["made_at"]) - z(fired["scheduled_time"])).total_seconds() < 5 * 60
    assert z(fired["attempts"][0]["at"]) >= z(fired["made_at"])  # not before its moment in the window
    assert inputs(world, machine)[0]["scheduled"] == fired["scheduled_time"]  # the scheduled time, not the moment
    upcoming = control(endpoint, "GET", f"?schedule_arn={arn}")[1]["schedules"][0]
    assert 0 <= (z(upcoming["next_firing_made_at"]) - z(upcoming["next_firing"])).total_seconds() < 300


BOOTSTRAP = '''#!{python}
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as resp:
        request_id, event = resp.headers["Lambda-Runtime-Aws-Request-Id"], resp.read()
    with open(os.environ["EVENTS_FILE"], "ab") as events:
        events.write(event + b"\\n")
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=b"{{}}", method="POST")).read()
'''


def test_a_lambda_target_is_invoked_with_the_input(world, endpoint, faults, tmp_path):
    faults({"scheduler": {"auto_fire": False}})
    events = tmp_path / "events.jsonl"
    code_zip = io.BytesIO()
    with zipfile.ZipFile(code_zip, "w") as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        archive.writestr(info, BOOTSTRAP.format(python=sys.executable))
    lam = world["lambda"]
    function = lam.create_function(FunctionName=unique("fired"), Runtime="provided.al2023", Handler="bootstrap", Role=ROLE,
                                   Code={"ZipFile": code_zip.getvalue()}, Environment={"Variables": {"EVENTS_FILE": str(events)}})
    lam.get_waiter("function_active_v2").wait(FunctionName=function["FunctionName"], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    try:
        arn = create(world, "rate(1 hour)", function["FunctionArn"])
        firing = control(endpoint, "POST", "/fire", {"schedule_arn": arn})[1]["firing"]
        assert firing["outcome"] == "SUCCEEDED" and firing["attempts"][0]["response"] == {"StatusCode": 202}
        received = wait_for(lambda: events.read_text().splitlines() if events.exists() else [], lambda lines: lines, timeout=20)
        event = json.loads(received[0])
        assert event == {"scheduled": firing["scheduled_time"], "execution": firing["execution_id"], "attempt": "1", "schedule": arn}
    finally:
        lam.delete_function(FunctionName=function["FunctionName"])
