#!/usr/bin/env python3
"""Build MedS-Ins across machines with Ray (docs/scale-out.md).

    scripts/ray_build.py --manifests M --raw-root R --out O [--cache DIR] [--medsins BIN]
                         [--address ADDR] [--num-cpus N] [-- BUILD OPTIONS...]

Runs `medsins plan`, submits one Ray task per unit the cache does not hold yet (largest
first, each with the CPUs the unit asks for, at most a node's), each running
`medsins build-unit <unit> --cache DIR`, then writes the output with
`medsins build --cache DIR --cached-only`. The cache must be storage every node sees (a
network file system in a cluster; any folder on one machine). Options after `--` go to all
three commands (e.g. `--skip-checksums`, `--instructions FILE`, `--only ID,...`).

Without --address a local Ray cluster is started (--num-cpus CPUs, default all), and without
--cache a temporary cache beside the output is used and removed. With --address, --cache is
required and --medsins must name the binary as every node sees it.

Exit code: the final build's (0 built, 3 partial build), 1 when a unit or the build failed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def parse(argv):
    extra = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1:]
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--manifests", required=True, help="manifest folder")
    p.add_argument("--raw-root", required=True, help="raw root (one folder per corpus)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--cache", help="cache folder every node sees")
    p.add_argument("--medsins", default="medsins", help="the medsins binary (default: on PATH)")
    p.add_argument("--address", help="address of a running Ray cluster (default: start one)")
    p.add_argument("--num-cpus", type=int, help="CPUs of the local cluster (default: all)")
    args = p.parse_args(argv)
    args.extra = extra
    return args


def medsins_binary(name):
    found = shutil.which(name)
    if found is None:
        sys.exit(f"error: the medsins binary `{name}` is not found; give --medsins PATH")
    return os.path.abspath(found)


def run_plan(binary, common, cache):
    cmd = [binary, "-q", "plan", *common, "--cache", cache, "--format", "json"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        sys.exit(f"error: `medsins plan` failed (exit {done.returncode})")
    return json.loads(done.stdout)


def node_cpus(ray):
    """CPUs of the largest live node: no unit may ask for more."""
    cpus = [n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
    return max(1, int(max(cpus, default=1)))


def build_units(ray, binary, common, cache, units):
    """One Ray task per unit, largest first; returns the failed ones with their stderr."""

    @ray.remote
    def build_unit(cmd):
        start = time.time()
        done = subprocess.run(cmd, capture_output=True, text=True)
        return done.returncode, done.stderr, time.time() - start

    most = node_cpus(ray)
    pending = {}
    for u in units:
        cpus = max(1, min(int(u.get("cpus", 1)), most))
        cmd = [binary, "-q", "build-unit", u["id"], *common, "--cache", cache, "--jobs", str(cpus)]
        pending[build_unit.options(num_cpus=cpus).remote(cmd)] = u["id"]
    failed, done_count = [], 0
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        unit = pending.pop(ready[0])
        code, stderr, seconds = ray.get(ready[0])
        done_count += 1
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"[{done_count}/{len(units)}] {unit}: {status}, {seconds:.1f} s", flush=True)
        if code != 0:
            failed.append((unit, stderr))
    return failed


def main(argv):
    args = parse(argv)
    if args.address and not args.cache:
        sys.exit("error: with --address, give --cache DIR on storage every node sees")
    binary = medsins_binary(args.medsins)
    common = [
        "--manifests", os.path.abspath(args.manifests),
        "--raw-root", os.path.abspath(args.raw_root),
        *args.extra,
    ]
    out = os.path.abspath(args.out)
    own_cache = None
    if args.cache:
        cache = os.path.abspath(args.cache)
    else:
        parent = os.path.dirname(out)
        os.makedirs(parent, exist_ok=True)
        own_cache = tempfile.mkdtemp(prefix=".medsins-ray-cache-", dir=parent)
        cache = own_cache
    try:
        return build(args, binary, common, cache, out)
    finally:
        if own_cache:
            shutil.rmtree(own_cache, ignore_errors=True)


def build(args, binary, common, cache, out):
    started = time.time()
    plan = run_plan(binary, common, cache)
    todo = [u for u in plan["units"] if not u.get("cached")]
    print(f"plan: {len(plan['units'])} unit(s), {len(todo)} to compute "
          f"({time.time() - started:.1f} s)", flush=True)
    if todo:
        import ray

        if args.address:
            ray.init(address=args.address, log_to_driver=False)
        else:
            ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
        try:
            units_start = time.time()
            failed = build_units(ray, binary, common, cache, todo)
            print(f"units: {time.time() - units_start:.1f} s on Ray", flush=True)
        finally:
            ray.shutdown()
        if failed:
            for unit, stderr in failed:
                sys.stderr.write(f"--- {unit}\n{stderr}")
            print(f"error: {len(failed)} unit(s) failed: {', '.join(u for u, _ in failed)}",
                  file=sys.stderr)
            return 1
    assemble_start = time.time()
    cmd = [binary, "build", *common, "--out", out, "--cache", cache, "--cached-only"]
    code = subprocess.run(cmd).returncode
    print(f"assemble: {time.time() - assemble_start:.1f} s; total {time.time() - started:.1f} s",
          flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
