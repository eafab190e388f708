"""scripts/bench-lambda's body, run inside scripts/local-aws: starts each function binary as Lambda starts it, against
a fake Lambda Runtime API served here, and measures init (process start to its first poll for work), first and
warm invocations, and peak RSS; then the same idle tick in Python + boto3 under awslambdaric; then the heaviest
invocations (1,000 due jobs, a 10-message trigger batch, a burst of recorder events) and fire precision (a job due
alone, ticked at its instant), both with ticks at real instants just ahead. Prints tables; `--json FILE` also writes
the figures.

Usage: bench_lambda.py RELEASE_DIR PYTHON WORK [--colds N] [--warms N] [--json FILE]"""

import argparse
import http.server
import io
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from datetime import datetime, timedelta, timezone

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FUNCTIONS = ["dispatcher", "recorder", "trigger", "waker"]


class Runtime:
    """A fake Lambda Runtime API (2018-06-01): hands out one queued event per `next` poll and records when each
    poll arrived and when each answer came back."""

    def __init__(self):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        self.polls = queue.Queue()
        self.sent = 0  # when the last event was handed out (perf_counter_ns)
        self.sent_wall = 0.0  # the same, by the wall clock (time.time)
        runtime = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self.reply(404)
                runtime.polls.put(time.perf_counter_ns())
                event = runtime.events.get()
                if event is None:  # the function was stopped while polling: nobody reads this answer
                    return
                request_id, body, deadline_ms = event
                headers = [
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                    ("Lambda-Runtime-Invoked-Function-Arn",
                     "arn:aws:lambda:us-east-1:123456789012:function:fsched-bench"),
                    ("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
                    ("Content-Type", "application/json"),
                ]
                runtime.sent = time.perf_counter_ns()
                runtime.sent_wall = time.time()
                self.reply(200, body, headers)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                self.reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
                now = time.perf_counter_ns()
                if "/init/error" in self.path:
                    runtime.answers.put(("init error", now, body))
                elif self.path.endswith("/error"):
                    runtime.answers.put(("error", now, body))
                elif self.path.endswith("/response"):
                    runtime.answers.put(("ok", now, body))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def first_poll(self, process, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return self.polls.get(timeout=0.2)
            except queue.Empty:
                if process.poll() is not None:
                    raise SystemExit(f"bench-lambda: the function exited during init (status {process.returncode})")
        raise SystemExit("bench-lambda: the function never polled for work")

    def invoke(self, event, budget_s=120, timeout=600):
        """Hands `event` to the waiting poll; returns (status, milliseconds from hand-out to answer, answer)."""
        deadline_ms = int(time.time() * 1000 + budget_s * 1000)
        self.events.put((str(uuid.uuid4()), json.dumps(event).encode(), deadline_ms))
        status, at, body = self.answers.get(timeout=timeout)
        self.polls.get(timeout=timeout)  # the function is back polling: the invocation is over
        return status, (at - self.sent) / 1e6, body


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_ms(pid):
    """The process's CPU time so far (user + system), in milliseconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def lambda_env(runtime, base, name):
    env = dict(base)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": runtime.address,
        "AWS_LAMBDA_FUNCTION_NAME": f"fsched-{name}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/fsched-{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "RUST_LOG": "warn",
    })
    return env


def start(runtime, command, env, log):
    t0 = time.perf_counter_ns()
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=ROOT)
    polled = runtime.first_poll(process)
    return process, (polled - t0) / 1e6


def stop(runtime, process):
    """Kills the function and ends the poll it left waiting, so that poll takes no later event."""
    process.kill()
    process.wait()
    runtime.events.put(None)
    for _ in range(500):
        if runtime.events.empty():
            break
        time.sleep(0.01)
    while not runtime.polls.empty():
        runtime.polls.get()


def measure(runtime, command, env, events, colds, warms, log):
    """`colds` fresh processes, each given `events()` once and then `warms` more: init, first and warm times."""
    inits, firsts, warm_times, warm_cpu, rss, statuses = [], [], [], [], [], set()
    for _ in range(colds):
        process, init = start(runtime, command, env, log)
        inits.append(init)
        status, ms, _ = runtime.invoke(events())
        statuses.add(status)
        firsts.append(ms)
        cpu_before = cpu_ms(process.pid)
        for _ in range(warms):
            status, ms, _ = runtime.invoke(events())
            statuses.add(status)
            warm_times.append(ms)
        if warms:
            warm_cpu.append((cpu_ms(process.pid) - cpu_before) / warms)
        rss.append(peak_rss_mb(process.pid))
        stop(runtime, process)
    return {
        "init_ms": statistics.median(inits),
        "first_ms": statistics.median(firsts),
        "warm_ms": statistics.median(warm_times) if warm_times else float("nan"),
        "warm_cpu_ms": statistics.mean(warm_cpu) if warm_cpu else float("nan"),
        "rss_mb": max(rss),
        "answers": sorted(statuses),
    }


def bundle_init(runtime, binary, env, colds, log):
    """Init with the system's trust store as one bundle file and no certificate directory, as Lambda's
    provided.al2023 has it (Debian, where this runs, adds a directory of the same certificates, read one by one).
    Only the trust store differs: SSL_CERT_FILE names Debian's bundle, SSL_CERT_DIR an empty directory."""
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    with tempfile.TemporaryDirectory() as empty:
        env = dict(env, SSL_CERT_FILE=bundle, SSL_CERT_DIR=empty)
        inits = []
        for _ in range(colds):
            process, init = start(runtime, [binary], env, log)
            inits.append(init)
            stop(runtime, process)
    return statistics.median(inits)


def zipped_size(path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(path, "bootstrap")
    return len(buf.getvalue())


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def tick(at):
    """The dispatcher's tick at `at`, as its EventBridge Scheduler schedule delivers it."""
    with open(os.path.join(ROOT, "tests/events/scheduler-tick.json")) as f:
        event = json.load(f)
    event["id"] = str(uuid.uuid4())
    event["time"] = iso(at)
    return event


def ecs_event(name):
    with open(os.path.join(ROOT, "tests/events/ecs", name)) as f:
        event = json.load(f)
    event["id"] = str(uuid.uuid4())
    return event


def stopped_events(base, n):
    """"Task State Change" events saying `n` of the tasks the heavy tick launched stopped with exit code 1."""
    import boto3

    ecs = boto3.client("ecs")
    cluster = base["FSCHED_DEMO_CLUSTER"]
    arns = ecs.list_tasks(cluster=cluster, maxResults=100)["taskArns"][:n]
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
    events = []
    for task in tasks:
        event = ecs_event("stopped-exit-code.json")
        detail = event["detail"]
        for key in ("taskArn", "clusterArn", "taskDefinitionArn", "startedBy", "group"):
            if key in task:
                detail[key] = task[key]
        for container in detail["containers"]:
            container["taskArn"] = task["taskArn"]
        events.append(event)
    if len(events) < n:
        raise SystemExit(f"bench-lambda: only {len(events)} tasks to stop; the heavy tick launched too few")
    return events


def alb_request():
    with open(os.path.join(ROOT, "tests/events/alb/request-headers-only.json")) as f:
        return json.load(f)


def sqs_batch(jobs, at):
    records = []
    for job in jobs:
        command = {
            "version": "0", "id": str(uuid.uuid4()), "detail-type": "Run Job", "source": "fsched.commands",
            "account": "123456789012", "time": iso(at), "region": "us-east-1", "resources": [],
            "detail": {"job": job, "requested_by": "bench"},
        }
        records.append({
            "messageId": str(uuid.uuid4()), "receiptHandle": "bench", "body": json.dumps(command),
            "attributes": {"SentTimestamp": str(int(at.timestamp() * 1000)), "ApproximateReceiveCount": "1"},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:fsched-trigger", "awsRegion": "us-east-1",
        })
    return {"Records": records}


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
    print(line(header))
    for r in rows:
        print(line(r))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("release")
    parser.add_argument("python")
    parser.add_argument("work")
    parser.add_argument("--colds", type=int, default=10)
    parser.add_argument("--warms", type=int, default=20)
    parser.add_argument("--json")
    args = parser.parse_args()

    base = dict(os.environ)
    for line in open(os.path.join(args.work, "env")):
        key, _, value = line.strip().partition("=")
        if key:
            base[key] = value
    runtime = Runtime()
    log = open(os.path.join(args.work, "functions.log"), "ab")
    figures = {"machine": machine(), "functions": {}, "heaviest": {}}
    now = lambda: datetime.now(timezone.utc)

    idle = {
        "dispatcher": lambda: tick(now()),
        "recorder": lambda: ecs_event("stopped-success.json"),
        "trigger": lambda: sqs_batch([], now()),
        "waker": alb_request,
    }
    rows = []
    for name in FUNCTIONS:
        binary = os.path.join(args.release, f"fsched-{name}")
        env = lambda_env(runtime, base, name)
        m = measure(runtime, [binary], env, idle[name], args.colds, args.warms, log)
        m["init_bundle_ms"] = bundle_init(runtime, binary, env, args.colds, log)
        m["binary_mb"] = os.path.getsize(binary) / 1e6
        m["zip_mb"] = zipped_size(binary) / 1e6
        figures["functions"][name] = m
        rows.append([name, f"{m['init_ms']:.1f}", f"{m['init_bundle_ms']:.1f}", f"{m['first_ms']:.1f}",
                     f"{m['warm_ms']:.1f}",
                     f"{m['warm_cpu_ms']:.1f}", f"{m['rss_mb']:.1f}", f"{m['binary_mb']:.1f}", f"{m['zip_mb']:.1f}",
                     ",".join(m["answers"])])

    python = [args.python, "-m", "awslambdaric", "bench_idle_tick.handler"]
    env = lambda_env(runtime, base, "python-idle-tick")
    env["PYTHONPATH"] = os.path.join(ROOT, "scripts/lib")
    m = measure(runtime, python, env, lambda: tick(now()), args.colds, args.warms, log)
    figures["python"] = m
    rows.append(["python idle tick", f"{m['init_ms']:.1f}", "", f"{m['first_ms']:.1f}", f"{m['warm_ms']:.1f}",
                 f"{m['warm_cpu_ms']:.1f}", f"{m['rss_mb']:.1f}", "", "", ",".join(m["answers"])])
    rust = figures["functions"]["dispatcher"]
    print()
    print(f"Each function started {args.colds} times as Lambda starts it (fake Runtime API, local emulator), "
          f"{args.warms} warm invocations each; medians, peak RSS the largest:")
    table(rows, ["function (idle event)", "init ms", "init ms, one CA bundle", "first ms", "warm ms", "warm CPU ms",
                 "peak RSS MB",
                 "binary MB", "zip MB", "answers"])
    print("(warm ms is mostly the emulator answering: a Query of the timers index with 1,000 jobs takes moto about "
          "200 ms; warm CPU ms is the function's own work)")
    print("(init ms, one CA bundle: the same start with the system's trust store as one bundle file and no certificate "
          "directory, as on Lambda's provided.al2023; here Debian adds a directory of the same certificates)")
    print(f"dispatcher vs Python + boto3 on the same idle tick: init {m['init_ms'] / rust['init_ms']:.0f}x "
          f"({m['init_ms'] / rust['init_bundle_ms']:.0f}x with one CA bundle), "
          f"first invoke {m['first_ms'] / rust['first_ms']:.1f}x, warm CPU {m['warm_cpu_ms'] / rust['warm_cpu_ms']:.1f}x, "
          f"peak RSS {m['rss_mb'] / rust['rss_mb']:.1f}x")

    # The timed scenes tick at real instants just past, as Scheduler does: the dispatcher measures each launch from
    # its due time by its own clock, so a due time must not lie ahead of it.
    heavy_at = (now() + timedelta(seconds=100)).replace(second=0, microsecond=0)
    alone_at = [heavy_at + timedelta(seconds=120 + 10 * i) for i in range(PRECISION_TICKS)]
    schedule_scenes(args, base, heavy_at, alone_at)
    heavy(args, runtime, base, log, figures, heavy_at)
    precision(args, runtime, base, figures, alone_at)
    print_precision(figures)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


PRECISION_TICKS = 20


def schedule_scenes(args, base, heavy_at, alone_at):
    """Moves the 1,000 jobs to `heavy_at` and adds one job due alone at each of `alone_at`, with the real CLI."""
    import yaml

    jobs_file = yaml.safe_load(open(os.path.join(args.work, "jobs.yaml")))
    at = heavy_at
    for job in jobs_file["jobs"].values():
        job["schedule"] = f"cron({at.minute} {at.hour} {at.day} {at.month} ? {at.year})"
    for i, t in enumerate(alone_at):
        jobs_file["jobs"][f"alone-{i:02d}"] = {
            "schedule": f"at({t:%Y-%m-%dT%H:%M:%S})", "overlap": "allow",
            "task_definition": next(iter(jobs_file["jobs"].values()))["task_definition"],
        }
    path = os.path.join(args.work, "scenes.yaml")
    yaml.safe_dump(jobs_file, open(path, "w"))
    fsched = os.path.join(os.path.dirname(args.release), "debug", "fsched")
    subprocess.run([fsched, "apply", path], env=base, check=True, stdout=subprocess.DEVNULL)


def sleep_until(t):
    time.sleep(max(0.0, t.timestamp() - time.time()))


def heavy(args, runtime, base, log, figures, due):
    """The heaviest invocation of each function: the footprint MemorySize is chosen from."""
    jobs = [line.strip() for line in open(os.path.join(args.work, "bench-jobs")) if line.strip()]
    rows = []

    def one(name, event, what, burst=1):
        binary = os.path.join(args.release, f"fsched-{name}")
        process, _ = start(runtime, [binary], lambda_env(runtime, base, name), log)
        times, statuses = [], set()
        cpu_before = cpu_ms(process.pid)
        for _ in range(burst):
            status, ms, body = runtime.invoke(event())
            times.append(ms)
            statuses.add(status)
        rss = peak_rss_mb(process.pid)
        cpu = cpu_ms(process.pid) - cpu_before
        stop(runtime, process)
        figures["heaviest"][name] = {
            "what": what, "ms": sum(times), "cpu_ms": cpu, "rss_mb": rss, "answers": sorted(statuses),
        }
        # Lambda gives a function CPU in proportion to its memory: one vCPU at 1,769 MB.
        at_128 = cpu * 1769 / 128
        rows.append([name, what, f"{sum(times):.0f}", f"{cpu:.0f}", f"{at_128 / 1000:.1f}", f"{rss:.1f}",
                     ",".join(sorted(statuses))])
        return body

    def at_due():
        sleep_until(due)  # the process is started, as a warm function would be: the tick comes at its minute
        return tick(due)

    emf_from = os.path.getsize(log.name)
    body = one("dispatcher", at_due, f"{len(jobs)} jobs due at once")
    figures["heaviest"]["dispatcher"]["in_process_ms"] = in_process(log.name, emf_from, due, runtime.sent_wall)
    launched = len(json.loads(body).get("launched") or [])
    figures["heaviest"]["dispatcher"]["launched"] = launched
    rows[-1][1] += f" ({launched} launched)"
    # The runs the tick deferred at the end of its window (TICK_WINDOW): the next minute's tick launches them.
    process, _ = start(runtime, [os.path.join(args.release, "fsched-dispatcher")],
                       lambda_env(runtime, base, "dispatcher"), log)
    sleep_until(due + timedelta(minutes=1))
    status, _, body = runtime.invoke(tick(due + timedelta(minutes=1)))
    stop(runtime, process)
    rest = len(json.loads(body).get("launched") or []) if status == "ok" else 0
    figures["heaviest"]["dispatcher"]["launched_next_minute"] = rest
    if launched + rest != len(jobs):
        raise SystemExit(f"bench-lambda: {launched} + {rest} of {len(jobs)} due jobs launched in two ticks")
    one("trigger", lambda: sqs_batch(jobs[:10], datetime.now(timezone.utc)), "10 Run Job commands in a batch")
    stopped = iter(stopped_events(base, 100))
    one("recorder", lambda: next(stopped), "100 tasks stopping, one event after another", 100)
    print()
    print("Heaviest invocations (peak RSS of the whole process):")
    table(rows, ["function", "invocation", "wall ms", "CPU ms", "CPU s at 128 MB", "peak RSS MB", "answers"])


def launch_delays(path, offset):
    """The `LaunchDelay` samples (seconds, due to RunTask's answer by the function's clock) of the EMF lines the
    dispatcher printed in `path` after `offset`."""
    samples = []
    with open(path, "rb") as f:
        f.seek(offset)
        for line in f:
            if b'"LaunchDelay"' in line:
                value = json.loads(line)["LaunchDelay"]
                samples.extend(value if isinstance(value, list) else [value])
    return samples


def in_process(path, offset, due, handed_out):
    """Each launch's in-process part, in ms: its LaunchDelay less the time from the scheduled instant to the tick's
    hand-out, which is what Scheduler and Lambda add in AWS (here, the bench's choice)."""
    waited = handed_out - due.timestamp()
    return sorted((d - waited) * 1000 for d in launch_delays(path, offset))


def percentile(values, p):
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def precision(args, runtime, base, figures, alone_at):
    """Fire precision, the function's part: from the tick's hand-out to RunTask's answer, for a job due alone at each
    of `alone_at` (one process: the first tick its first invocation, the others warm)."""
    path = os.path.join(args.work, "precision.log")
    with open(path, "ab") as log:
        binary = os.path.join(args.release, "fsched-dispatcher")
        process, init = start(runtime, [binary], lambda_env(runtime, base, "dispatcher"), log)
        alone = []
        for due in alone_at:
            sleep_until(due)
            offset = os.path.getsize(path)
            status, _, body = runtime.invoke(tick(due))
            launched = (json.loads(body).get("launched") or []) if status == "ok" else []
            if len(launched) != 1:
                raise SystemExit(f"bench-lambda: the tick at {due.isoformat()} launched {launched} ({status}: "
                                 f"{body[:500]!r}), not one run")
            alone.extend(in_process(path, offset, due, runtime.sent_wall))
        stop(runtime, process)
    figures["precision"] = {"init_ms": init, "cold_ms": alone[0], "warm_ms": sorted(alone[1:])}


def print_precision(figures):
    p = figures["precision"]
    warm = p["warm_ms"]
    heavy = p["heavy_ms"] = figures["heaviest"]["dispatcher"]["in_process_ms"]
    rows = [
        ["one job due, first invocation", "1", f"{p['cold_ms']:.1f}", "", "", ""],
        ["one job due, warm process", str(len(warm)), f"{percentile(warm, 50):.1f}", f"{percentile(warm, 99):.1f}",
         f"{warm[-1]:.1f}", ""],
        [f"1000 jobs due at once: the {len(heavy)} the first tick launched", str(len(heavy)), f"{percentile(heavy, 50):.0f}",
         f"{percentile(heavy, 99):.0f}", f"{heavy[-1]:.0f}" if heavy else "",
         f"{len(heavy) / (heavy[-1] / 1000):.1f}" if heavy else ""],
    ]
    print()
    print("Fire precision, the function's part: tick handed out -> RunTask answered, ms (a cold start adds the init "
          "above):")
    table(rows, ["tick", "launches", "p50 ms", "p99 ms", "max ms", "launches/s"])
    print("(in AWS, EventBridge Scheduler's delivery and a cold start come before this; docs/performance.md)")


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return {"cpu": cpu, "cores": os.cpu_count(), "python": sys.version.split()[0]}


if __name__ == "__main__":
    main()
