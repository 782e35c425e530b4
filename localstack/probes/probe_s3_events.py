"""9. S3 event notifications from a versioned bucket to a Lambda: versionId, eTag, one event
per upload when several land within a second."""

import time

from _common import aws, bucket, recording_function, report, sink_events, wait_for

s3 = aws("s3")
sink = bucket()
fn_arn = recording_function(sink)
fn = fn_arn.split(":")[-1]
data = bucket("probe-data")
s3.put_bucket_versioning(Bucket=data, VersioningConfiguration={"Status": "Enabled"})
s3.put_bucket_notification_configuration(Bucket=data, NotificationConfiguration={"LambdaFunctionConfigurations": [
    {"LambdaFunctionArn": fn_arn, "Events": ["s3:ObjectCreated:*"],
     "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "data/"}]}}}]})

t0 = time.monotonic()
puts = [s3.put_object(Bucket=data, Key=key, Body=body) for key, body in
        [("data/users.csv", b"u1"), ("data/items.csv", b"i1"), ("data/interactions.csv", b"x1"),
         ("data/users.csv", b"u2"), ("other/ignored.csv", b"-")]]
took = time.monotonic() - t0
events = wait_for(lambda: len(e := sink_events(sink, fn)) >= 4 and e, timeout=30) or sink_events(sink, fn)
time.sleep(3)
events = sink_events(sink, fn)
records = [r for e in events for r in e.get("Records", [])]
report(9, f"5 puts in {took:.2f} s (4 under data/, one key twice) -> one event each", len(records) == 4,
       f"{len(events)} invocations, {len(records)} records")
sent = {(p["VersionId"], p["ETag"].strip('"')) for p in puts[:4]}
seen = {(r["s3"]["object"].get("versionId"), r["s3"]["object"].get("eTag")) for r in records}
report(9, "records carry the put's versionId and eTag", seen == sent,
       [{k: r["s3"]["object"].get(k) for k in ("key", "versionId", "eTag", "size", "sequencer")} for r in records])
report(9, "record shape", None, {k: records[0].get(k) for k in ("eventName", "eventSource", "eventVersion")}
       if records else None)
seqs = {r["s3"]["object"].get("sequencer") for r in records}
report(9, "sequencer differs per put (AWS: orders events of one key)", len(seqs) == len(records), seqs)
order = [r["s3"]["object"]["key"] + "@" + r["s3"]["object"]["versionId"][-4:] for r in records]
report(9, "arrival order vs put order", None, f"put: {[p['VersionId'][-4:] for p in puts[:4]]}, arrived: {order}")
