"""Plays EventBridge for scripts/demo: invokes the dispatcher with one scheduled event per simulated minute for a
day, starting at the minute after the jobs were applied, with a three-hour outage (no deliveries) and one duplicate
delivery; and, through demo_ecs, plays ECS: each launched task's state changes go to the recorder as ECS would send
them. Prints a line per hour that had activity to stderr, and the simulated window to stdout as shell assignments.

Usage: demo-ticks.py DISPATCHER_URL RECORDER_URL CLUSTER (run with the emulator's Python, which has boto3)."""

import datetime as dt
import json
import sys
import urllib.error
import urllib.request

from demo_ecs import Ecs

url, recorder_url, cluster = sys.argv[1:4]
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


def tick(t):
    event = {
        "version": "0", "id": f"demo-{int(t.timestamp())}", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": iso(t), "region": "eu-central-1",
        "resources": ["arn:aws:events:eu-central-1:123456789012:rule/fsched-DispatcherTick"], "detail": {},
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
    ecs.advance(t)
    t += dt.timedelta(minutes=1)
flush(end.strftime("%H:xx UTC"))
print("day total: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in totals.items()), file=sys.stderr)
print("recorded endings: " + ", ".join(f"{k} {v}" for k, v in sorted(ecs.outcomes.items())), file=sys.stderr)
print(f"DEMO_START={iso(start)}")
print(f"DEMO_END={iso(end)}")
