"""fsched's own AWS bill, computed from measured counts (scripts/cost-model; reading in docs/cost.md).

Inputs:
- the JSON of `scripts/bench-scale --json`: requests per run, by operation, for the dispatcher and the recorder;
- the JSON of `scripts/bench-lambda --json`: each function's CPU per invocation (idle and heaviest).

What is not measured here is said so and kept in one place below: AWS's prices (us-east-1 list prices, as published
when this was written) and the round-trip latencies of AWS APIs, which the emulator cannot stand for. Prints
Markdown tables.
"""

import argparse
import json

# us-east-1 list prices (USD), on-demand, without free tiers.
PRICE = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_s_arm64": 0.0000133334,
    "lambda_gb_s_x86": 0.0000166667,
    "ddb_write_unit": 0.625 / 1e6,  # on-demand write request unit (1 KB)
    "ddb_read_unit": 0.125 / 1e6,  # on-demand read request unit (4 KB strongly consistent, 8 KB eventually)
    "events_entry": 1.00 / 1e6,  # PutEvents, custom events (64 KB chunks)
    "scheduler_invocation": 1.00 / 1e6,  # EventBridge Scheduler, after 14 million free a month
    "sfn_transition": 0.025 / 1000,  # Step Functions standard workflows
    "alarm_month": 0.10,
    "dashboard_month": 3.00,  # beyond the account's first three
    "logs_gb": 0.50,  # CloudWatch Logs ingestion
}

# Assumed, not measured (the emulator's latencies are a Python process's): one AWS round trip, in ms.
LATENCY_MS = {"dynamodb": 6, "RunTask": 150, "PutEvents": 20, "DescribeTaskDefinition": 30}

# Item sizes (KB) that write units are charged on, rounded up per write. From docs/table-design.md: runs hold their
# task's report, a few KB; a job's definition is under one.
ITEM_KB = {"run": 2, "job": 1}
# Every index projects ALL, so each write of an item rewrites its entry in each index it is in, and a write that
# moves an item's index key is a delete and a put there (docs/scaling.md): index writes per item write.
INDEX_WRITES = {
    "claim": 2,  # listing, timers
    "launch": 4,  # listing, by-task, timers (moved: 2)
    "recorder": 3,  # listing, by-task, timers, for each of the recorder's writes
    "job advance": 3,  # timers (moved: 2), listing
}

MINUTES_A_MONTH = 60 * 24 * 30


def per_run(scale, lam):
    d, r = scale["emulator"]["per_run"]["dispatcher"], scale["emulator"]["per_run"]["recorder"]
    heavy = lam["heaviest"]["dispatcher"]
    cpu_per_launch_ms = heavy["cpu_ms"] / max(1, heavy["launched"])
    recorder_cpu_ms = lam["functions"]["recorder"]["warm_cpu_ms"]
    ddb_calls = lambda c: sum(c.get(op, 0) for op in ("Query", "GetItem", "PutItem", "UpdateItem"))
    # The dispatcher's wall time per run: its DynamoDB round trips, RunTask, its share of PutEvents, and its CPU at
    # 256 MB's share of a vCPU (1,769 MB is one vCPU).
    dispatcher_ms = (ddb_calls(d) * LATENCY_MS["dynamodb"] + d["RunTask"] * LATENCY_MS["RunTask"]
                     + LATENCY_MS["PutEvents"] + cpu_per_launch_ms * 1769 / 256)
    events = 4  # the task state changes the recorder is invoked for
    recorder_ms = events * (LATENCY_MS["dynamodb"] * ddb_calls(r) / events + recorder_cpu_ms * 1769 / 128) \
        + r.get("DescribeTaskDefinition", 0) * LATENCY_MS["DescribeTaskDefinition"] + LATENCY_MS["PutEvents"]
    writes = d["PutItem"] + d["UpdateItem"] + r["PutItem"] + r["UpdateItem"]
    # The dispatcher's writes: the claim and the launch (PutItem), the job's advance (UpdateItem).
    recorder_writes = r["PutItem"] + r["UpdateItem"]
    run_writes = (1 + INDEX_WRITES["claim"]) + (1 + INDEX_WRITES["launch"]) \
        + recorder_writes * (1 + INDEX_WRITES["recorder"])
    write_units = run_writes * ITEM_KB["run"] + d["UpdateItem"] * (1 + INDEX_WRITES["job advance"]) * ITEM_KB["job"]
    reads = d["Query"] + d["GetItem"] + r["Query"] + r["GetItem"]
    lines = {
        "Lambda requests (1 tick share + 4 recorder events)": (1 + events) * PRICE["lambda_request"],
        "Lambda GB-seconds (dispatcher 256 MB, recorder 128 MB, arm64)":
            (0.25 * dispatcher_ms + 0.125 * recorder_ms) / 1000 * PRICE["lambda_gb_s_arm64"],
        "DynamoDB writes (items and their index entries)": write_units * PRICE["ddb_write_unit"],
        "DynamoDB reads": reads * PRICE["ddb_read_unit"],
        "EventBridge PutEvents entries (started, ended)":
            (d["PutEvents entries"] + r["PutEvents entries"]) * PRICE["events_entry"],
    }
    facts = {"dispatcher_ms": dispatcher_ms, "recorder_ms": recorder_ms, "writes": writes,
             "write_units": write_units, "reads": reads}
    return lines, facts


def idle_month(lam):
    tick_ms = LATENCY_MS["dynamodb"] + lam["functions"]["dispatcher"]["warm_cpu_ms"] * 1769 / 256
    ticks = MINUTES_A_MONTH
    return {
        "EventBridge Scheduler (a tick a minute; 14 million a month are free)": ticks * PRICE["scheduler_invocation"],
        "Lambda requests": ticks * PRICE["lambda_request"],
        "Lambda GB-seconds (256 MB, arm64)": ticks * 0.25 * tick_ms / 1000 * PRICE["lambda_gb_s_arm64"],
        "DynamoDB reads (one Query of the timers index a tick)": ticks * 0.5 * PRICE["ddb_read_unit"],
        "CloudWatch Logs (a metrics line and a log line a tick, about 1 KB)": ticks * 1e-6 * PRICE["logs_gb"],
        "CloudWatch alarms (5)": 5 * PRICE["alarm_month"],
        "CloudWatch dashboard (free if the account has fewer than 3)": PRICE["dashboard_month"],
    }, tick_ms


def alternatives():
    """Per run, EventBridge Scheduler invoking a small Python Lambda that calls RunTask, and Step Functions waiting
    for the task (`ecs:runTask.sync`); neither keeps a run history beyond logs and execution history."""
    lam_ms = 400  # a Python + boto3 RunTask call, warm, 128 MB (assumed: RunTask's round trip dominates)
    wrapper = {
        "EventBridge Scheduler invocation": PRICE["scheduler_invocation"],
        "Lambda request + 128 MB x 0.4 s": PRICE["lambda_request"] + 0.125 * lam_ms / 1000 * PRICE["lambda_gb_s_x86"],
    }
    sfn = {
        "EventBridge Scheduler invocation": PRICE["scheduler_invocation"],
        "Step Functions: 4 state transitions (start, RunTask.sync, choice, end)": 4 * PRICE["sfn_transition"],
    }
    return wrapper, sfn


def table(title, lines, scale=1.0, unit="per 1,000,000 runs"):
    print(f"\n| {title} | {unit} |\n|---|---|")
    total = 0.0
    for what, usd in lines.items():
        total += usd * scale
        print(f"| {what} | ${usd * scale:,.2f} |")
    print(f"| **total** | **${total:,.2f}** |")
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", required=True, help="scripts/bench-scale --json output")
    parser.add_argument("--lambda", dest="lam", required=True, help="scripts/bench-lambda --json output")
    args = parser.parse_args()
    scale, lam = json.load(open(args.scale)), json.load(open(args.lam))
    lines, facts = per_run(scale, lam)
    print(f"Measured per run: {facts['writes']:.1f} DynamoDB writes ({facts['write_units']:.0f} write units with "
          f"their index entries), {facts['reads']:.1f} reads; modelled wall time: dispatcher "
          f"{facts['dispatcher_ms']:.0f} ms, recorder {facts['recorder_ms']:.0f} ms over 4 events")
    fsched = table("fsched, per run", lines, 1e6)
    idle, tick_ms = idle_month(lam)
    table(f"fsched, an idle month (43,200 ticks of about {tick_ms:.0f} ms)", idle, 1.0, "per month")
    wrapper, sfn = alternatives()
    w = table("EventBridge Scheduler + a Python Lambda calling RunTask", wrapper, 1e6)
    s = table("EventBridge Scheduler + Step Functions (`ecs:runTask.sync`)", sfn, 1e6)
    print(f"\nPer 1,000,000 runs: fsched ${fsched:,.2f}, Lambda wrapper ${w:,.2f}, Step Functions ${s:,.2f}")


if __name__ == "__main__":
    main()
