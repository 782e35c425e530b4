"""1. EventBridge Scheduler: API surface, CloudFormation, and whether schedules fire (they do not)."""

import datetime as dt
import time

from _common import (ROLE_ARN, aws, bucket, deploy_stack, recording_function, report,
                     sink_events, stack_resources, unique)

sch, sfn = aws("scheduler"), aws("stepfunctions")
sink = bucket()
fn_arn = recording_function(sink)
fn_name = fn_arn.split(":")[-1]
sm_arn = sfn.create_state_machine(
    name=unique("probe-sm"), roleArn=ROLE_ARN,
    definition='{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}')["stateMachineArn"]

group = unique("probe-group")
g = sch.create_schedule_group(Name=group, Tags=[{"Key": "app", "Value": "recoflow"}])
tags = sch.list_tags_for_resource(ResourceArn=g["ScheduleGroupArn"])["Tags"]
report(1, "CreateScheduleGroup with Tags", tags == [{"Key": "app", "Value": "recoflow"}], tags)

now = dt.datetime.now(dt.timezone.utc)
lambda_target = {"Arn": fn_arn, "RoleArn": ROLE_ARN, "Input": '{"from": "scheduler"}'}
sfn_target = {"Arn": sm_arn, "RoleArn": ROLE_ARN, "Input": '{"from": "scheduler"}'}
cases = {
    "cron+tz": dict(ScheduleExpression="cron(0 3 ? * MON *)", ScheduleExpressionTimezone="Asia/Tokyo",
                    Target=sfn_target),
    "rate(1 minute) lambda": dict(ScheduleExpression="rate(1 minute)", Target=lambda_target),
    "rate(1 minute) sfn": dict(ScheduleExpression="rate(1 minute)", Target=sfn_target),
    "at() in 30 s": dict(ScheduleExpression=(now + dt.timedelta(seconds=30)).strftime("at(%Y-%m-%dT%H:%M:%S)"),
                         Target=lambda_target),
    "start/end dates": dict(ScheduleExpression="rate(5 minutes)", StartDate=now + dt.timedelta(minutes=1),
                            EndDate=now + dt.timedelta(days=7), Target=sfn_target),
    "DISABLED": dict(ScheduleExpression="rate(1 minute)", State="DISABLED", Target=lambda_target),
}
names = {}
for label, kw in cases.items():
    name = unique("probe-sched")
    window = {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5} if label == "cron+tz" else {"Mode": "OFF"}
    try:
        sch.create_schedule(Name=name, GroupName=group, FlexibleTimeWindow=window, **kw)
        got = sch.get_schedule(Name=name, GroupName=group)
        names[label] = name
        report(1, f"CreateSchedule {label}", True,
               {k: str(got.get(k)) for k in ("ScheduleExpression", "ScheduleExpressionTimezone", "State",
                                             "StartDate", "EndDate", "FlexibleTimeWindow")})
    except Exception as e:  # noqa: BLE001 - a probe records every refusal
        report(1, f"CreateSchedule {label}", False, e)

accepted_bad = 0
for label, expr, extra in [("bad cron", "cron(0 3 * * *)", {}), ("bad rate", "rate(0 minutes)", {}),
                           ("bad timezone", "rate(1 hour)", {"ScheduleExpressionTimezone": "Mars/Base"}),
                           ("StartDate 1 day ago", "rate(1 hour)",
                            {"StartDate": now - dt.timedelta(days=1)})]:
    try:
        sch.create_schedule(Name=unique("probe-bad"), GroupName=group, ScheduleExpression=expr,
                            FlexibleTimeWindow={"Mode": "OFF"}, Target=lambda_target, **extra)
        report(1, f"refuses {label}", False, "accepted")
        accepted_bad += 1
    except Exception as e:  # noqa: BLE001
        report(1, f"refuses {label}", True, e)

listed = sch.list_schedules(GroupName=group)["Schedules"]
report(1, "ListSchedules GroupName", len(listed) == len(names) + accepted_bad,
       f"{len(listed)} listed; summary keys {sorted(listed[0])}")
for label, code, kw in [("same name again", "ConflictException", dict(Name=names["DISABLED"], GroupName=group)),
                        ("unknown group", "ResourceNotFoundException",
                         dict(Name=unique("probe-sched"), GroupName="no-such-group"))]:
    try:
        sch.create_schedule(ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
                            Target=lambda_target, **kw)
        report(1, f"CreateSchedule {label} -> {code}", False, "accepted")
    except Exception as e:  # noqa: BLE001
        report(1, f"CreateSchedule {label} -> {code}", code in str(e), e)
disabled = sch.list_schedules(GroupName=group, State="DISABLED")["Schedules"]
report(1, "ListSchedules State=DISABLED", len(disabled) == 1, len(disabled))
page = sch.list_schedules(GroupName=group, MaxResults=2)
report(1, "ListSchedules MaxResults=2 pages", len(page["Schedules"]) == 2 and "NextToken" in page,
       f"{len(page['Schedules'])} + NextToken={'NextToken' in page}")

name = names["DISABLED"]
sch.update_schedule(Name=name, GroupName=group, ScheduleExpression="rate(2 minutes)",
                    FlexibleTimeWindow={"Mode": "OFF"}, Target=lambda_target, State="DISABLED")
got = sch.get_schedule(Name=name, GroupName=group)
report(1, "UpdateSchedule (full replace)", got["ScheduleExpression"] == "rate(2 minutes)", got["ScheduleExpression"])
try:
    sch.update_schedule(Name=name, GroupName=group, ScheduleExpression="cron(nonsense)",
                        FlexibleTimeWindow={"Mode": "OFF"}, Target=lambda_target)
    report(1, "UpdateSchedule refuses a bad expression", False,
           f"accepted; stored {sch.get_schedule(Name=name, GroupName=group)['ScheduleExpression']}")
except Exception as e:  # noqa: BLE001
    report(1, "UpdateSchedule refuses a bad expression", True, e)
arn = got["Arn"]
try:
    sch.tag_resource(ResourceArn=arn, Tags=[{"Key": "form", "Value": "f1"}])
    report(1, "TagResource on a schedule (AWS: groups only)", None,
           f"accepted: {sch.list_tags_for_resource(ResourceArn=arn)['Tags']}")
except Exception as e:  # noqa: BLE001
    report(1, "TagResource on a schedule (AWS: groups only)", None, e)
sch.delete_schedule(Name=name, GroupName=group)
try:
    sch.get_schedule(Name=name, GroupName=group)
    report(1, "DeleteSchedule", False, "still there")
except sch.exceptions.ResourceNotFoundException as e:
    report(1, "DeleteSchedule then Get -> ResourceNotFoundException", True, e)

# CloudFormation
tpl = {"Resources": {
    "Group": {"Type": "AWS::Scheduler::ScheduleGroup",
              "Properties": {"Name": unique("cfn-group"), "Tags": [{"Key": "app", "Value": "recoflow"}]}},
    "Schedule": {"Type": "AWS::Scheduler::Schedule", "Properties": {
        "GroupName": {"Ref": "Group"}, "ScheduleExpression": "cron(0 3 ? * MON *)",
        "ScheduleExpressionTimezone": "America/New_York", "State": "ENABLED",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": sm_arn, "RoleArn": ROLE_ARN, "Input": "{}"}}}},
    "Outputs": {"GroupArn": {"Value": {"Fn::GetAtt": ["Group", "Arn"]}},
                "ScheduleArn": {"Value": {"Fn::GetAtt": ["Schedule", "Arn"]}}}}
status, stack, reasons = deploy_stack(tpl)
detail = reasons or stack_resources(stack)
if status == "CREATE_COMPLETE":
    outs = aws("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    detail = {o["OutputKey"]: o["OutputValue"] for o in outs} | {"resources": stack_resources(stack)}
report(1, "CloudFormation ScheduleGroup + Schedule", status == "CREATE_COMPLETE", f"{status} {detail}")
if status == "CREATE_COMPLETE":
    res = stack_resources(stack)
    got = sch.get_schedule(Name=res["Schedule"], GroupName=res["Group"])
    report(1, "CFN schedule readable with GetSchedule", got["ScheduleExpressionTimezone"] == "America/New_York",
           {k: got[k] for k in ("Name", "GroupName", "ScheduleExpression", "ScheduleExpressionTimezone", "State")})

# Firing: the rate(1 minute) and at() schedules above would have fired within 90 s on AWS.
time.sleep(90)
fired = sink_events(sink, fn_name)
runs = sfn.list_executions(stateMachineArn=sm_arn)["executions"]
report(1, "schedules never fire (90 s, rate(1 minute) + at(+30 s))", not fired and not runs,
       f"lambda invocations {len(fired)}, sfn executions {len(runs)}")

sch.delete_schedule_group(Name=group)
left = [s for s in sch.list_schedules()["Schedules"] if s["GroupName"] == group]
report(1, "DeleteScheduleGroup drops its schedules", not left, f"{len(left)} left")
