"""7. EventBridge: a rate(1 minute) rule targeting a Lambda, and a target with DeadLetterConfig
and RetryPolicy (API and CloudFormation)."""

import json
import time

from _common import (aws, bucket, deploy_stack, recording_function, report, sink_events,
                     stack_resources, unique, wait_for)

ev, sqs, lam = aws("events"), aws("sqs"), aws("lambda")
sink = bucket()
fn_arn = recording_function(sink)
fn = fn_arn.split(":")[-1]
dlq_url = sqs.create_queue(QueueName=unique("probe-dlq"))["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
gone_arn = recording_function(sink)  # deleted below: delivery to it must fail
lam.delete_function(FunctionName=gone_arn)

rule = unique("probe-rule")
ev.put_rule(Name=rule, ScheduleExpression="rate(1 minute)", State="ENABLED")
out = ev.put_targets(Rule=rule, Targets=[
    {"Id": "fn", "Arn": fn_arn, "Input": json.dumps({"from": "rule"})},
    {"Id": "gone", "Arn": gone_arn, "DeadLetterConfig": {"Arn": dlq_arn},
     "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}}])
report(7, "PutTargets with DeadLetterConfig + RetryPolicy", out["FailedEntryCount"] == 0,
       ev.list_targets_by_rule(Rule=rule)["Targets"][1])

t0 = time.monotonic()
first = wait_for(lambda: sink_events(sink, fn), timeout=130, interval=2)
report(7, "rate(1 minute) rule invokes the Lambda", bool(first),
       f"first after {time.monotonic() - t0:.0f} s, event {first and first[0]}")
second = wait_for(lambda: len(sink_events(sink, fn)) >= 2 and sink_events(sink, fn, with_time=True),
                  timeout=80, interval=2)
if second:
    report(7, "interval between two firings", None, f"{second[1]['_at'] - second[0]['_at']:.1f} s")
dead = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=5, MessageAttributeNames=["All"]).get("Messages", [])
report(7, "a failed delivery (deleted function) lands in the DLQ", bool(dead),
       [(m["Body"][:120], m.get("MessageAttributes")) for m in dead])
ev.disable_rule(Name=rule)

tpl = {"Resources": {
    "Dlq": {"Type": "AWS::SQS::Queue"},
    "Rule": {"Type": "AWS::Events::Rule", "Properties": {
        "ScheduleExpression": "rate(1 hour)", "State": "ENABLED",
        "Targets": [{"Id": "fn", "Arn": fn_arn,
                     "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["Dlq", "Arn"]}},
                     "RetryPolicy": {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600}}]}}}}
status, stack, reasons = deploy_stack(tpl)
detail = reasons
if status == "CREATE_COMPLETE":
    rule_name = stack_resources(stack)["Rule"]
    detail = ev.list_targets_by_rule(Rule=rule_name)["Targets"]
report(7, "CloudFormation AWS::Events::Rule target with DeadLetterConfig + RetryPolicy", status == "CREATE_COMPLETE",
       f"{status} {detail}")
