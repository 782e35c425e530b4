"""6. S3 presigned GET URLs (SigV4) fetched with plain urllib: content type, expiry.

Expiry and signatures are only checked when LocalStack runs with S3_SKIP_SIGNATURE_VALIDATION=0
(start.sh passes it through); its default (1) accepts any presigned URL.
"""

import time
import urllib.error
import urllib.request

from botocore.config import Config

from _common import aws, bucket, report

s3 = aws("s3")
# SigV4 as the Rust SDK presigns (boto3 would otherwise presign SigV2 for us-east-1)
s3v4 = aws("s3", Config(signature_version="s3v4", s3={"addressing_style": "path"}))
b = bucket()
png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
s3.put_object(Bucket=b, Key="charts/kpi.png", Body=png, ContentType="image/png")


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()[:300]


url = s3v4.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "charts/kpi.png"}, ExpiresIn=3600)
status, ctype, body = fetch(url)
report(6, "presigned GET (SigV4, 1 h) with urllib", status == 200 and ctype == "image/png" and body == png,
       f"{status} {ctype} {len(body)} bytes; url {url[:90]}...")

short = s3v4.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "charts/kpi.png"}, ExpiresIn=2)
time.sleep(4)
status, ctype, body = fetch(short)
report(6, "expired presigned GET is refused", status == 403, f"{status} {body!r}")

tampered = url.replace("charts/kpi.png", "charts/other.png")
s3.put_object(Bucket=b, Key="charts/other.png", Body=png, ContentType="image/png")
status, _, body = fetch(tampered)
report(6, "a presigned URL edited to another key is refused", status == 403, f"{status} {body[:120]!r}")
status, _, body = fetch(f"{s3.meta.endpoint_url}/{b}/charts/kpi.png")
report(6, "unsigned GET of the same object", None, f"{status} (LocalStack does not enforce bucket policies/ACLs)")
