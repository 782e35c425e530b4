"""5. CloudWatch: custom metrics, embedded metric format, Lambda logs, Dashboard and Alarm in
CloudFormation (alarm on an SQS queue's ApproximateNumberOfMessagesVisible)."""

import datetime as dt
import json
import time

from _common import aws, bucket, deploy_stack, recording_function, report, stack_resources, unique, wait_for

cw, logs, lam, sqs = aws("cloudwatch"), aws("logs"), aws("lambda"), aws("sqs")
ns = unique("Recoflow/Probe")
dims = [{"Name": "placement", "Value": "home-top"}]
now = dt.datetime.now(dt.timezone.utc)
cw.put_metric_data(Namespace=ns, MetricData=[
    {"MetricName": "Impressions", "Dimensions": dims, "Value": v, "Unit": "Count", "Timestamp": now}
    for v in (3, 4, 5)])
start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(minutes=1)
md = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[{"Id": "imp", "MetricStat": {
    "Metric": {"Namespace": ns, "MetricName": "Impressions", "Dimensions": dims}, "Period": 60, "Stat": "Sum"}}])
got = md["MetricDataResults"][0]
report(5, "PutMetricData then GetMetricData Sum", sum(got["Values"]) == 12, f"{got['Values']} at {got['Timestamps']}")
st = cw.get_metric_statistics(Namespace=ns, MetricName="Impressions", Dimensions=dims, StartTime=start, EndTime=end,
                              Period=60, Statistics=["Sum", "Average", "Maximum", "SampleCount"])
report(5, "GetMetricStatistics", bool(st["Datapoints"]),
       [{k: v for k, v in p.items() if k != "Timestamp"} for p in st["Datapoints"]])

sink = bucket()
fn = recording_function(sink).split(":")[-1]
emf_ns = unique("Recoflow/Emf")
emf = {"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [
    {"Namespace": emf_ns, "Dimensions": [["placement"]], "Metrics": [{"Name": "Clicks", "Unit": "Count"}]}]},
    "placement": "home-top", "Clicks": 7}
lam.invoke(FunctionName=fn, Payload=json.dumps({"emf": emf}).encode())
group = f"/aws/lambda/{fn}"


def log_events():
    try:
        return logs.filter_log_events(logGroupName=group)["events"]
    except logs.exceptions.ResourceNotFoundException:  # LocalStack creates the group a little later
        return None


t0 = time.monotonic()
found = wait_for(log_events, timeout=30)
report(5, f"function log lines reach CloudWatch Logs {group}", bool(found),
       f"after {time.monotonic() - t0:.1f} s: {[e['message'].strip()[:100] for e in found or []]}")
time.sleep(5)
emf_metrics = cw.list_metrics(Namespace=emf_ns)["Metrics"]
report(5, "EMF log line becomes a metric", bool(emf_metrics), emf_metrics)

queue = unique("probe-q")
url = sqs.create_queue(QueueName=queue)["QueueUrl"]
for i in range(3):
    sqs.send_message(QueueUrl=url, MessageBody=str(i))
tpl = {"Resources": {
    "Dashboard": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
        "DashboardName": unique("probe-dash"), "DashboardBody": json.dumps({"widgets": [
            {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {
                "metrics": [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue]],
                "region": "us-east-1", "stat": "Maximum", "period": 60}}]})}},
    "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": unique("probe-alarm"), "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": queue}], "Statistic": "Maximum", "Period": 60,
        "EvaluationPeriods": 1, "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching"}}}}
status, stack, reasons = deploy_stack(tpl)
res = stack_resources(stack) if status == "CREATE_COMPLETE" else {}
report(5, "CloudFormation Dashboard + Alarm", status == "CREATE_COMPLETE", f"{status} {res or reasons}")
if res:
    dash = tpl["Resources"]["Dashboard"]["Properties"]
    listed = [d["DashboardName"] for d in cw.list_dashboards()["DashboardEntries"]]
    report(5, "the CloudFormation Dashboard exists", dash["DashboardName"] in listed,
           f"physical id {res['Dashboard']!r}; ListDashboards {listed}")
    cw.put_dashboard(**dash)
    body = cw.get_dashboard(DashboardName=dash["DashboardName"])["DashboardBody"]
    report(5, "PutDashboard then GetDashboard (API, no CloudFormation)", "ApproximateNumberOfMessagesVisible" in body,
           body[:60])
    t0 = time.monotonic()

    def sqs_metric():
        return cw.get_metric_statistics(
            Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[{"Name": "QueueName", "Value": queue}], Statistics=["Maximum"], Period=60,
            StartTime=now - dt.timedelta(minutes=5), EndTime=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1),
        )["Datapoints"]

    points = wait_for(sqs_metric, timeout=90, interval=5)
    report(5, "LocalStack publishes AWS/SQS ApproximateNumberOfMessagesVisible", bool(points),
           f"after {time.monotonic() - t0:.0f} s: {[p['Maximum'] for p in points or []]}")
    alarm = wait_for(lambda: (a := cw.describe_alarms(AlarmNames=[res["Alarm"]])["MetricAlarms"][0])
                     ["StateValue"] == "ALARM" and a, timeout=150, interval=5)
    final = alarm or cw.describe_alarms(AlarmNames=[res["Alarm"]])["MetricAlarms"][0]
    report(5, "the alarm goes to ALARM on 3 visible messages", bool(alarm),
           f"after {time.monotonic() - t0:.0f} s: {final['StateValue']} {final.get('StateReason', '')[:120]}")
