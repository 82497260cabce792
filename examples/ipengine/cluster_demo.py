"""The main demo: C++ engines (zcalc-ipengine, on zsession) in a real ipyparallel cluster.

    /usr/bin/python3 examples/ipengine/cluster_demo.py build/examples/zcalc-ipengine

Starts Debian's ipcontroller on 127.0.0.1 (temporary profile), two C++ engines started by
ipyparallel's own launcher (ipp.Cluster with engine_cmd, what `ipcluster` runs) plus a third
started by hand, and one Python ipengine; drives them with ipyparallel.Client: direct,
load-balanced and broadcast execute, an error, numpy arrays through a comm to a C++ engine,
an engine SIGKILLed mid-task whose task is retried elsewhere, shutdown. Prints what happened
and how fast. Every process is stopped by its pid at the end, also on failure.
"""
import os
import signal
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipp_cluster import Cluster, execute, lb_execute, pipelined  # noqa: E402

import ipyparallel as ipp  # noqa: E402


def say(*a):
    print(*a, flush=True)


def engine_pid(cl, eid):
    """The pid a C++ engine logged when it registered as `eid` (its own log, or the
    launcher's under <profile>/log)."""
    import glob
    import re

    for path in glob.glob(os.path.join(cl.dir, "*.log")) + \
            glob.glob(os.path.join(cl.dir, "log", "*.log")):
        m = re.search(r"registered as engine %d \(.*pid (\d+)" % eid, open(path).read())
        if m:
            return int(m.group(1))
    raise RuntimeError("no log of engine %d" % eid)


def timed(f, n):
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t0) / n


def main():
    exe = os.path.abspath(sys.argv[1])
    t_start = time.time()
    with Cluster(exe) as cl:
        launcher = None
        c = None
        try:
            cl.start_controller()
            say("controller: Debian ipcontroller %s on 127.0.0.1, profile %s (%.1f s)" %
                (ipp.__version__, cl.dir, time.time() - t_start))
            # Two C++ engines through ipyparallel's launcher (engine_cmd), as ipcluster does.
            launcher = ipp.Cluster(n=2, profile_dir=cl.dir, cluster_id="", log_level=40)
            launcher.config.EngineLauncher.engine_cmd = [exe]
            launcher.start_engines_sync(n=2)
            cl.start_cpp_engine("engine_hand")  # a third one started by hand
            cl.start_py_engine("engine_py")
            c = cl.client()
            c.wait_for_engines(4, timeout=90)
            hand = cl.cpp_engine_id("engine_hand")
            # Tell C++ from Python engines: only the calc language has sleep() built in.
            cpp, py = [], []
            for eid in c.ids:
                try:
                    execute(c, eid, "sleep(0)")
                    cpp.append(eid)
                except ipp.RemoteError:
                    py.append(eid)
            say("engines: C++ %s (two by ipp.Cluster engine_cmd, engine %d by hand), Python %s, "
                "all up %.1f s after start" % (cpp, hand, py, time.time() - t_start))

            # -- direct -----------------------------------------------------------------------
            ar = execute(c, cpp[0], 'r = 2; area = pi * r^2; print("area", area); area')
            say("\n[direct] engine %d: stdout %r, result %s" %
                (cpp[0], ar.stdout, ar.execute_result["data"]["text/plain"]))
            for eid in (cpp[0], py[0]):
                dt = timed(lambda: execute(c, eid, "x = 1"), 50)
                say("[direct] round trip through the controller, engine %d (%s): %.2f ms" %
                    (eid, "C++" if eid in cpp else "Python", dt * 1e3))

            # -- load-balanced -------------------------------------------------------------------
            t0 = time.perf_counter()
            ars = pipelined(lambda i: lb_execute(c, "%d^2" % i, targets=cpp), 200)
            dt = time.perf_counter() - t0
            spread = {}
            for ar in ars:
                spread[ar.engine_id] = spread.get(ar.engine_id, 0) + 1
            say("\n[load-balanced] 200 executes over the C++ engines, 16 in flight, in %.2f s (%.0f/s), "
                "spread %s" % (dt, 200 / dt, spread))

            # -- broadcast -------------------------------------------------------------------------
            for coalescing in (False, True):
                bv = c.broadcast_view(targets=c.ids, is_coalescing=coalescing)
                t0 = time.perf_counter()
                ar = bv.execute('n = 6*7; print("n =", n)', silent=False, block=False)
                ar.get(timeout=30)
                ar.wait_for_output(timeout=30)
                say("[broadcast%s] to %d engines (C++ and Python, same line) in %.1f ms: %s" %
                    (", coalescing" if coalescing else "", len(c.ids),
                     (time.perf_counter() - t0) * 1e3, [s.strip() for s in ar.stdout]))

            # -- an error ----------------------------------------------------------------------------
            try:
                execute(c, cpp[1], "y = 1/0")
            except ipp.RemoteError as e:
                say("\n[error] RemoteError from engine %s: %s: %s" %
                    (e.engine_info.get("engine_id"), e.ename, e.evalue))
            try:
                c[cpp[1]].apply_sync(lambda v: sum(v), [1, 2])
            except ipp.RemoteError as e:
                say("[error] apply on a C++ engine: %s: %s..." % (e.ename, e.evalue[:90]))

            # -- arrays through a comm -----------------------------------------------------------------
            cc = cl.comm_client()
            try:
                uuid = c._engines[cpp[0]]
                comm_id, _ = cc.open(uuid, "zcalc.arrays")
                say("\n[comm] arrays to C++ engine %d through the controller "
                    "(comm_msg + raw buffer, no pickle):" % cpp[0])
                for mib in (1, 16, 64):
                    x = np.random.default_rng(mib).random(mib << 17)
                    t0 = time.perf_counter()
                    _, d, _ = cc.call(uuid, comm_id, {"op": "sum", "dtype": "<f8",
                                                      "shape": list(x.shape)}, [memoryview(x)])
                    dt = time.perf_counter() - t0
                    say("  sum of %3d MiB float64: %.6g (numpy %.6g) in %6.1f ms, %.2f GB/s" %
                        (mib, d["value"], x.sum(), dt * 1e3, x.nbytes / dt / 1e9))
                a = np.random.default_rng(7).random((300, 200))
                b = np.random.default_rng(8).random((200, 100))
                t0 = time.perf_counter()
                _, d, bufs = cc.call(uuid, comm_id, {"op": "matmul", "dtype": "<f8",
                                                     "shape": [300, 200], "shape_b": [200, 100]},
                                     [memoryview(a), memoryview(b)])
                m = np.frombuffer(bufs[0], dtype="<f8").reshape(d["shape"])
                say("  matmul (300,200)@(200,100) -> %s in %.1f ms, equal to numpy: %s" %
                    (tuple(d["shape"]), (time.perf_counter() - t0) * 1e3, np.allclose(m, a @ b)))
                v = np.arange(5, dtype="<i4")
                _, d, bufs = cc.call(uuid, comm_id, {"op": "scale", "dtype": "<i4",
                                                     "shape": [5], "factor": 0.5},
                                     [memoryview(v)])
                say("  scale %s by 0.5 -> %s" % (v.tolist(), np.frombuffer(bufs[0]).tolist()))
            finally:
                cc.close()

            # -- an engine killed mid-task -----------------------------------------------------------------
            task = lb_execute(c, 'sleep(1); print("task done"); 99', targets=cpp, retries=1)
            victim = None
            while victim is None and not task.ready():
                qs = c.queue_status(targets=cpp)
                victim = next((e for e in cpp if qs[e]["tasks"] == 1), None)
            if victim is None:
                raise RuntimeError("the task finished before it could be seen running")
            t_kill = time.time()
            os.kill(engine_pid(cl, victim), signal.SIGKILL)
            say("\n[failure] SIGKILLed C++ engine %d while it ran a task (retries=1)" % victim)
            task.get(timeout=60)
            task.wait_for_output(timeout=10)
            say("[failure] the task finished on engine %d %.1f s after the kill: %s, stdout %r" %
                (task.engine_id, time.time() - t_kill, task.execute_result["data"]["text/plain"],
                 task.stdout))
            hand = victim
            deadline = time.time() + 30
            while hand in c.ids and time.time() < deadline:
                time.sleep(0.1)
            say("[failure] the controller dropped engine %d: engines now %s" % (hand, c.ids))

            # -- shutdown ------------------------------------------------------------------------------
            t0 = time.time()
            c.shutdown(targets=c.ids, block=True)
            while c.ids and time.time() - t0 < 20:
                time.sleep(0.1)
            say("\n[shutdown] every engine answered shutdown_request and unregistered in %.1f s:"
                " engines now %s" % (time.time() - t0, c.ids))
            say("demo finished in %.1f s" % (time.time() - t_start))
        finally:
            if c is not None:
                c.close()
            if launcher is not None:
                try:
                    launcher.stop_engines_sync()
                except Exception:
                    pass
                for es in launcher.engines.values():
                    for l in getattr(es, "launchers", {}).values():
                        if getattr(l, "pid", None):
                            try:
                                os.kill(l.pid, signal.SIGKILL)
                            except ProcessLookupError:
                                pass


if __name__ == "__main__":
    main()
