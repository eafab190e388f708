"""Time croniter's next-fire evaluation on the same 100,000-schedule mix as shared/benches/next_fire.rs.

Prints the best of several passes, in milliseconds, as `croniter_ms <value>`.
"""
import datetime
import pathlib
import sys
import time

import pytz
from croniter import croniter

COUNT = 100_000
mix_file = pathlib.Path(__file__).resolve().parent.parent / "shared" / "benches" / "schedules.tsv"
mix = []
for line in mix_file.read_text().splitlines():
    if line.startswith("#") or not line.strip():
        continue
    _, expr, zone = line.split("\t")
    mix.append((expr, pytz.timezone(zone)))

base = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
work = []
for i in range(COUNT):
    expr, zone = mix[i % len(mix)]
    after = (base + datetime.timedelta(minutes=(i * 7919) % (2 * 365 * 24 * 60))).astimezone(zone)
    work.append(croniter(expr, after))  # pre-parsed, like the Rust side

passes = int(sys.argv[1]) if len(sys.argv) > 1 else 3
best = float("inf")
for _ in range(passes):
    # get_next advances each iterator; re-seed them so every pass does the same work.
    for i, it in enumerate(work):
        expr, zone = mix[i % len(mix)]
        it.set_current((base + datetime.timedelta(minutes=(i * 7919) % (2 * 365 * 24 * 60))).astimezone(zone))
    start = time.perf_counter()
    for it in work:
        it.get_next(datetime.datetime)
    best = min(best, time.perf_counter() - start)
print(f"croniter_ms {best * 1000:.1f}")
