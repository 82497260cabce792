"""C++ engines launched the ways a cluster launches them.

    /usr/bin/python3 launch_test.py ZCALC_IPENGINE

1. ipyparallel's own launcher (ipp.Cluster, the machinery behind `ipcluster start`) with
   `engine_cmd = [zcalc-ipengine]`: it appends --profile-dir and --cluster-id, the engines find
   the connection file, register, execute; stop_cluster stops them.
2. A CurveZMQ cluster (IPP_ENABLE_CURVE=1: the connection file carries curve_serverkey and an
   empty HMAC key): the engine generates a client keypair and serves an execute.
Every process is stopped by its pid in `finally`.
"""
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "examples", "ipengine"))
from ipp_cluster import Cluster  # noqa: E402

import ipyparallel as ipp  # noqa: E402

FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


def launcher_pids(cluster):
    pids = []
    if cluster.controller is not None and getattr(cluster.controller, "pid", None):
        pids.append(cluster.controller.pid)
    for es in cluster.engines.values():
        for launcher in getattr(es, "launchers", {}).values():
            if getattr(launcher, "pid", None):
                pids.append(launcher.pid)
    return pids


def kill_pids(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_ipcluster(exe):
    d = tempfile.mkdtemp(prefix="zsession-ipcluster-")
    cluster = ipp.Cluster(n=2, profile_dir=d, cluster_id="ziptest", controller_ip="127.0.0.1",
                          controller_args=["--nodb", "--HeartMonitor.period=1000"],
                          log_level=30)
    cluster.config.EngineLauncher.engine_cmd = [exe]
    pids = []
    try:
        t0 = time.time()
        cluster.start_controller_sync()
        pids = launcher_pids(cluster)
        cluster.start_engines_sync(n=2)
        pids = launcher_pids(cluster)
        check(len(pids) == 3, "launcher pids known: %s" % pids)
        rc = cluster.connect_client_sync()
        rc.wait_for_engines(2, timeout=60)
        check(len(rc.ids) == 2, "ipcluster's Local launcher started 2 C++ engines (%.1f s)" %
              (time.time() - t0))
        ar = rc[:].execute('print("rank", 2+2)', silent=False, block=False)
        ar.get(timeout=30)
        ar.wait_for_output(timeout=30)
        check(ar.stdout == ["rank 4\n"] * 2, "they execute: %r" % ar.stdout)
        logs = "".join(open(os.path.join(d, "log", f)).read()
                       for f in os.listdir(os.path.join(d, "log")) if "ipengine" in f)
        check("registered as engine" in logs, "engine logs under the profile show registration")
        rc.close()
        cluster.stop_cluster_sync()
        alive = [p for p in pids if os.path.exists("/proc/%d" % p) and
                 open("/proc/%d/stat" % p).read().split()[2] != "Z"]
        check(not alive, "stop_cluster stopped controller and engines (left: %s)" % alive)
    finally:
        kill_pids(pids)
        shutil.rmtree(d, ignore_errors=True)


def test_curve(exe):
    os.environ["IPP_ENABLE_CURVE"] = "1"
    try:
        with Cluster(exe) as cl:
            cl.start_controller()
            import json
            with open(cl.engine_file()) as f:
                info = json.load(f)
            check(bool(info.get("curve_serverkey")) and info.get("key") == "",
                  "the curve controller wrote a server key and no HMAC key")
            cl.start_cpp_engine("engine_curve")
            eid = cl.cpp_engine_id("engine_curve")
            c = cl.client()
            try:
                c.wait_for_engines(1, timeout=30)
                ar = c[eid].execute("3 * 14", silent=False, block=False)
                ar.get(timeout=30)
                ar.wait_for_output(timeout=30)
                check(ar.execute_result["data"]["text/plain"] == "42",
                      "a C++ engine serves over CurveZMQ")
                c.shutdown(targets=[eid], block=True)
                check(cl.procs["engine_curve"].wait(timeout=10) == 0, "and shuts down")
            finally:
                c.close()
    finally:
        del os.environ["IPP_ENABLE_CURVE"]


def main():
    exe = os.path.abspath(sys.argv[1])
    test_ipcluster(exe)
    test_curve(exe)
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
