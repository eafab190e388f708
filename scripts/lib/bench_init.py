"""scripts/bench-init's body: the init of function binaries side by side (process start to the first poll for work,
against bench_lambda's fake Runtime API), interleaved so a busy moment weighs on each alike. Init makes no AWS call,
so no emulator is needed: the environment names a table, bus and Region that are never reached.

Usage: bench_init.py [--starts N] BINARY..."""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
from bench_lambda import Runtime, start, stop  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=30)
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    runtime = Runtime()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=runtime.address, AWS_LAMBDA_FUNCTION_NAME="fsched-bench",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128", AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
               AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
               FSCHED_TABLE="bench", FSCHED_EVENT_BUS="bench", RUST_LOG="warn")
    inits = {b: [] for b in args.binaries}
    with open(os.devnull, "wb") as log:
        for _ in range(args.starts):
            for binary in args.binaries:
                process, init = start(runtime, [binary], env, log)
                inits[binary].append(init)
                stop(runtime, process)
    width = max(len(b) for b in args.binaries)
    print(f"{'binary'.ljust(width)}  init p50 ms  min ms  max ms  size MB   ({args.starts} starts each, interleaved)")
    for binary, times in inits.items():
        print(f"{binary.ljust(width)}  {statistics.median(times):11.1f}  {min(times):6.1f}  {max(times):6.1f}  "
              f"{os.path.getsize(binary) / 1e6:7.1f}")


if __name__ == "__main__":
    main()
