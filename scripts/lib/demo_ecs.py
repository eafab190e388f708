"""Plays ECS for scripts/demo: the emulator starts tasks but runs no containers and sends no events, so this module
decides how each task fsched launched goes (from a scenario below), stops it in the emulator when its containers
would have exited, and delivers the "ECS Task State Change" events ECS would send, built from the real event
fixtures in tests/events/ecs, to the recorder function.

Scenario (the simulated day): every task starts 31 s after its run's time; crm-sync tasks take 2-4 minutes and
exit 0, except the 21st (exit code 1: its job's `retry` runs it again a minute later, and that 22nd task succeeds),
the 34th (killed for memory, exit 137) and the 53rd, which hangs until the dispatcher stops it at its 14-minute
max_runtime; the nightly ETL runs 47 minutes on Spot and exits 0; the first four warehouse refreshes take 41
minutes (longer than their 30-minute schedule: the next waits, overlap: queue), later ones 12; other jobs
(the import, the chained report, each of the compaction's four tasks, the KPI dashboard) run about 6 minutes and
exit 0."""

import copy
import datetime as dt
import json
import os

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "events", "ecs")


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def fixture(name):
    with open(os.path.join(FIXTURES, name + ".json")) as f:
        return json.load(f)


class Ecs:
    def __init__(self, cluster, invoke):
        self.ecs = boto3.client("ecs")
        self.cluster = cluster
        self.invoke = invoke  # sends one event to the recorder, returns its answer
        self.tasks = {}  # task ARN -> plan
        self.launches = {}  # job -> tasks launched so far
        self.outcomes = {}

    def _plan(self, task, t):
        tags = {x["key"]: x["value"] for x in task.get("tags", [])}
        job = tags.get("fsched:job", "?")
        # The run's own time (its id starts with it): a triggered run is asked for within the minute.
        stamp = tags.get("fsched:run", "/")[len(job) + 1:][:16]
        try:
            t = max(t, dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc))
        except ValueError:
            pass
        n = self.launches[job] = self.launches.get(job, 0) + 1
        definition = self.ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"]
        overrides = task.get("overrides") or {}
        plan = {
            "job": job, "run": tags.get("fsched:run", "?"), "task": task, "definition": definition,
            "containers": [c["name"] for c in definition["containerDefinitions"]],
            "cpu": overrides.get("cpu") or definition.get("cpu", "256"),
            "memory": overrides.get("memory") or definition.get("memory", "512"),
            "scheduled": t, "exit": 0, "reason": None, "hang": False,
        }
        if job == "nightly-etl":
            plan["stop_at"] = t + dt.timedelta(minutes=47, seconds=31)
        elif job == "warehouse-refresh":
            # The morning's first refreshes outlast the 30-minute schedule (overlap: queue); later ones do not.
            plan["stop_at"] = t + dt.timedelta(minutes=41 if n <= 4 else 12, seconds=31)
        elif job != "crm-sync":
            plan["stop_at"] = t + dt.timedelta(minutes=6, seconds=11)
        else:
            plan["stop_at"] = t + dt.timedelta(minutes=2 + n % 3, seconds=31 + (n * 17) % 29)
            if n == 21:
                plan["exit"] = 1
            elif n == 34:
                plan["exit"], plan["reason"] = 137, "OutOfMemoryError: Container killed due to memory usage"
            elif n == 53:
                plan["hang"], plan["stop_at"] = True, None
        return plan

    def _event(self, name, plan, version, status, time, **detail):
        event = fixture(name)
        task = plan["task"]
        event["id"] = f"demo-{task['taskArn'][-12:]}-{version}"
        event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ")
        event["region"] = self.ecs.meta.region_name
        event["resources"] = [task["taskArn"]]
        d = event["detail"]
        base = copy.deepcopy(d["containers"][0])
        d["containers"] = []
        for name_ in plan["containers"]:
            c = copy.deepcopy(base)
            c.update(name=name_, taskArn=task["taskArn"], lastStatus=status)
            c.pop("exitCode", None)
            c.pop("reason", None)
            d["containers"].append(c)
        start = plan["scheduled"]
        d.update(
            taskArn=task["taskArn"], clusterArn=task["clusterArn"], taskDefinitionArn=task["taskDefinitionArn"],
            startedBy=task.get("startedBy", ""), group=task.get("group", ""), lastStatus=status, version=version,
            cpu=str(plan["cpu"]), memory=str(plan["memory"]), createdAt=iso(start + dt.timedelta(seconds=2)),
            updatedAt=iso(time),
        )
        if task.get("capacityProviderName"):
            d["capacityProviderName"] = task["capacityProviderName"]
            d.pop("launchType", None)
        for key in ("pullStartedAt", "pullStoppedAt", "startedAt", "stoppingAt", "stoppedAt", "executionStoppedAt",
                    "stopCode", "stoppedReason"):
            d.pop(key, None)
        if version >= 2:
            d["pullStartedAt"] = iso(start + dt.timedelta(seconds=8))
        if version >= 3:
            d["pullStoppedAt"] = iso(start + dt.timedelta(seconds=29))
            d["startedAt"] = iso(start + dt.timedelta(seconds=31))
        d.update(detail)
        return event

    def _send(self, event):
        answer = self.invoke(event)
        if "errorType" in answer:
            raise SystemExit(f"demo: the recorder failed: {answer['errorType']}: {answer.get('errorMessage')}")
        return answer

    def launched(self, t):
        """After a tick that launched tasks: plan each new one and report it provisioning, pulling and running."""
        arns = self.ecs.list_tasks(cluster=self.cluster, desiredStatus="RUNNING")["taskArns"]
        new = [a for a in arns if a not in self.tasks]
        for i in range(0, len(new), 100):
            described = self.ecs.describe_tasks(cluster=self.cluster, tasks=new[i:i + 100], include=["TAGS"])
            for task in described["tasks"]:
                plan = self.tasks[task["taskArn"]] = self._plan(task, t)
                self._send(self._event("pending", plan, 2, "PENDING", t + dt.timedelta(seconds=9)))
                self._send(self._event("running", plan, 3, "RUNNING", t + dt.timedelta(seconds=31)))

    def advance(self, t):
        """Ends the tasks whose containers exit by `t`, and reports tasks the dispatcher stopped."""
        for arn, plan in self.tasks.items():
            if plan.get("done"):
                continue
            if plan["hang"]:
                task = self.ecs.describe_tasks(cluster=self.cluster, tasks=[arn])["tasks"][0]
                if task["lastStatus"] != "STOPPED":
                    continue
                # Stopped by the dispatcher (max_runtime): ECS reports the reason fsched gave StopTask.
                self._stop(plan, t, 143, None, "UserInitiated", task.get("stoppedReason", ""))
                continue
            if plan["stop_at"] and plan["stop_at"] <= t:
                self.ecs.stop_task(cluster=self.cluster, task=arn, reason="Essential container in task exited")
                self._stop(plan, plan["stop_at"], plan["exit"], plan["reason"], "EssentialContainerExited",
                           "Essential container in task exited")

    def _stop(self, plan, at, code, reason, stop_code, stopped_reason):
        event = self._event(
            "stopped-success", plan, 5, "STOPPED", at + dt.timedelta(seconds=12),
            stopCode=stop_code, stoppedReason=stopped_reason, desiredStatus="STOPPED",
            stoppingAt=iso(at), executionStoppedAt=iso(at + dt.timedelta(seconds=3)),
            stoppedAt=iso(at + dt.timedelta(seconds=12)),
        )
        for i, c in enumerate(event["detail"]["containers"]):
            c["exitCode"] = code if i == 0 else 0
            if reason and i == 0:
                c["reason"] = reason
        answer = self._send(event)
        plan["done"] = True
        status = answer.get("status", "?")
        self.outcomes[status] = self.outcomes.get(status, 0) + 1
        return status
