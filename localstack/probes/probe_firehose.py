"""2. Kinesis Data Firehose direct put to S3: API, object layout and timing, CloudFormation."""

import json
import time

from _common import ROLE_ARN, aws, bucket, deploy_stack, report, stack_resources, unique, wait_for

fh, s3 = aws("firehose"), aws("s3")


def keys(b):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", []))


def make_stream(b, prefix, error_prefix, compression="UNCOMPRESSED"):
    name = unique("probe-fh")
    fh.create_delivery_stream(
        DeliveryStreamName=name, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "BucketARN": f"arn:aws:s3:::{b}", "RoleARN": ROLE_ARN, "Prefix": prefix,
            "ErrorOutputPrefix": error_prefix, "CompressionFormat": compression,
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60}})
    return name


b = bucket()
name = make_stream(b, "raw/dt=!{timestamp:yyyy}-!{timestamp:MM}-!{timestamp:dd}/",
                   "errors/!{firehose:error-output-type}/!{timestamp:yyyy}/")
d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
dest = d["Destinations"][0]
report(2, "CreateDeliveryStream DirectPut + ExtendedS3", d["DeliveryStreamStatus"] == "ACTIVE",
       f"status {d['DeliveryStreamStatus']}, destination keys {sorted(dest)}")

t0 = time.monotonic()
fh.put_record(DeliveryStreamName=name, Record={"Data": b'{"n": 1}\n'})
first = wait_for(lambda: keys(b), timeout=120, interval=0.2)
report(2, "PutRecord reaches S3 (BufferingHints 60 s/64 MiB)", bool(first),
       f"after {time.monotonic() - t0:.2f} s: {first}")
out = fh.put_record_batch(DeliveryStreamName=name,
                          Records=[{"Data": json.dumps({"n": i}).encode() + b"\n"} for i in range(3)])
time.sleep(1)
after = keys(b)
new = [k for k in after if k not in first]
body = s3.get_object(Bucket=b, Key=new[0])["Body"].read() if new else b""
report(2, "PutRecordBatch: one object per call, records concatenated as sent", len(new) == 1,
       f"FailedPutCount {out['FailedPutCount']}, {len(new)} new object(s), body {body!r}")
report(2, "Prefix !{timestamp:...} expanded", "!{" not in after[0], after[0])

# LocalStack formats the whole key with strftime: a %Y prefix expands here (but not on AWS).
b2 = bucket()
make_stream_name = make_stream(b2, "raw/dt=%Y-%m-%d/", "errors/")
fh.put_record(DeliveryStreamName=make_stream_name, Record={"Data": b"x\n"})
report(2, "Prefix with strftime %Y (LocalStack only)", None, wait_for(lambda: keys(b2), timeout=5))
b3 = bucket()
fh.put_record(DeliveryStreamName=make_stream(b3, "gz/", "errors/", "GZIP"), Record={"Data": b"plain\n"})
gz_key = wait_for(lambda: keys(b3), timeout=5)[0]
report(2, "CompressionFormat GZIP compresses", s3.get_object(Bucket=b3, Key=gz_key)["Body"].read()[:2] == b"\x1f\x8b",
       f"{gz_key}: {s3.get_object(Bucket=b3, Key=gz_key)['Body'].read()!r}")



def cfn_stream(stream_name):
    props = {"DeliveryStreamType": "DirectPut", "ExtendedS3DestinationConfiguration": {
        "BucketARN": {"Fn::GetAtt": ["Bucket", "Arn"]}, "RoleARN": ROLE_ARN,
        "Prefix": "events/!{timestamp:yyyy}/", "ErrorOutputPrefix": "errors/",
        "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 60}}}
    if stream_name:
        props["DeliveryStreamName"] = stream_name
    tpl = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"},
                         "Stream": {"Type": "AWS::KinesisFirehose::DeliveryStream", "Properties": props}},
           "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Stream", "Arn"]}}}}
    status, stack, reasons = deploy_stack(tpl)
    ok = status == "CREATE_COMPLETE"
    res = stack_resources(stack) if ok else {}
    if ok:
        fh.put_record(DeliveryStreamName=res["Stream"], Record={"Data": b"cfn\n"})
        reasons = wait_for(lambda: keys(res["Bucket"]), timeout=5)
    label = "with DeliveryStreamName" if stream_name else "without DeliveryStreamName"
    report(2, f"CloudFormation AWS::KinesisFirehose::DeliveryStream {label}", ok, f"{status} {res} {reasons}")


cfn_stream(None)
cfn_stream(unique("probe-cfn-fh"))

# Delivery is synchronous: a failing S3 write fails the put itself (AWS accepts and retries).
gone = make_stream("no-such-bucket-" + unique("x"), "raw/", "errors/")
try:
    fh.put_record_batch(DeliveryStreamName=gone, Records=[{"Data": b"x\n"}])
    report(2, "put to a stream whose bucket is missing", None, "accepted")
except Exception as e:  # noqa: BLE001 - the refusal is the finding
    report(2, "put to a stream whose bucket is missing", None, e)

# AWS limits PutRecordBatch to 500 records and 4 MiB, a record to 1,000 KiB
for count, size in [(501, 10), (1, 1100 * 1024), (500, 9000)]:
    try:
        r = fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x" * size}] * count)
        report(2, f"PutRecordBatch of {count} x {size} bytes (over an AWS limit)", None,
               f"accepted, FailedPutCount {r['FailedPutCount']}")
    except Exception as e:  # noqa: BLE001
        report(2, f"PutRecordBatch of {count} x {size} bytes (over an AWS limit)", None, e)
