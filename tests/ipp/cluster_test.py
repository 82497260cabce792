"""C++ engines (zcalc-ipengine) in a real ipyparallel cluster, driven by ipyparallel.Client.

    /usr/bin/python3 cluster_test.py ZCALC_IPENGINE

One cluster for every check, to stay fast: Debian's ipcontroller on 127.0.0.1 (heartbeat
period 1 s, an engine is dead after 5 missed beats), C++ engines A and B, one Python ipengine,
and later C++ engine C. Checks: direct, load-balanced and broadcast (plain and coalescing)
execute with outputs; an error as RemoteError with the engine's info; apply refused with a
clear error; comms carrying numpy arrays (sum, scale, matmul, echo); abort while an execute
runs (control on its own thread) and clear; a 10 s execute that keeps its engine registered;
engine B SIGKILLed mid-task, its task (retries=1) completed once by the late-joining engine C;
garbage through the mux and control channels; shutdown unregisters the engines.
Every process is stopped by its pid in `finally` (ipp_cluster.Cluster).
"""
import os
import shutil
import signal
import sys
import time

import numpy as np
import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "examples", "ipengine"))
from ipp_cluster import Cluster, execute, lb_execute  # noqa: E402

import ipyparallel as ipp  # noqa: E402

FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


def counting_replies(client):
    """Counts execute_reply messages per msg_id as the client's IO thread receives them."""
    counts = {}
    orig = client._queue_handlers["execute_reply"]

    def handler(msg):
        mid = msg["parent_header"].get("msg_id")
        counts[mid] = counts.get(mid, 0) + 1
        return orig(msg)

    client._queue_handlers["execute_reply"] = handler
    return counts


def test_basics(cl, c, a, b, py):
    ar = execute(c, a, 'x = 6*7; print("hello from", x); x + 0.5')
    check(ar.stdout == "hello from 42\n", "direct execute stdout on C++ engine: %r" % ar.stdout)
    check(ar.execute_result["data"]["text/plain"] == "42.5", "direct execute_result")
    check(ar.engine_id == a, "reply metadata maps to engine %d" % a)
    ar = execute(c, py, 'x = 6*7; print("hello from", x)')
    check(ar.stdout == "hello from 42\n", "the Python engine beside it runs the same line")

    ars = [lb_execute(c, "sleep(0.2); print(%d); %d * 2" % (i, i), targets=[a, b])
           for i in range(6)]
    got = [(ar.get(timeout=30), ar.wait_for_output(timeout=30)) for ar in ars]
    vals = sorted(int(ar.execute_result["data"]["text/plain"]) for ar in ars)
    check(vals == [0, 2, 4, 6, 8, 10], "load-balanced execute results %s" % vals)
    check(all(ar.stdout == "%d\n" % i for i, ar in enumerate(ars)), "load-balanced stdout")
    engines = {ar.engine_id for ar in ars}
    check(engines == {a, b}, "load balanced over both C++ engines: %s" % engines)
    del got

    for coalescing in (False, True):
        bv = c.broadcast_view(targets=[a, b, py], is_coalescing=coalescing)
        ar = bv.execute('y = 7*3; print("y", y)', silent=False, block=False)
        ar.get(timeout=30)
        ar.wait_for_output(timeout=30)
        check(ar.stdout == ["y 21\n"] * 3,
              "broadcast (coalescing=%s) ran on 3 engines: %r" % (coalescing, ar.stdout))
        check(sorted(ar.engine_id) == sorted([a, b, py]),
              "broadcast (coalescing=%s) engine ids %s" % (coalescing, ar.engine_id))

    try:
        execute(c, a, 'print("before"); 1/0')
        check(False, "an error raises RemoteError")
    except ipp.RemoteError as e:
        check(e.ename == "ZeroDivisionError", "RemoteError ename %s" % e.ename)
        check(e.engine_info.get("engine_id") == a and
              e.engine_info.get("engine_uuid") == c._engines[a],
              "RemoteError carries the engine's info %s" % e.engine_info)
    try:
        c[a].apply_sync(lambda: 1)
        check(False, "apply on a C++ engine raises")
    except ipp.RemoteError as e:
        check(e.ename == "NotImplementedError" and "execute_request" in e.evalue and
              "zcalc.arrays" in e.evalue, "apply refused, naming what it accepts: " + e.evalue)

    # clear forgets the namespace
    execute(c, a, "z = 5")
    c.clear(targets=[a], block=True)
    try:
        execute(c, a, "z")
        check(False, "clear_request cleared the namespace")
    except ipp.RemoteError as e:
        check(e.ename == "NameError", "clear_request cleared the namespace (%s)" % e.ename)


def test_comms(cl, c, a):
    cc = cl.comm_client()
    try:
        uuid = c._engines[a]
        x = np.arange(1000, dtype="<f8")
        comm_id, _ = cc.open(uuid, "zcalc.arrays")
        t, data, bufs = cc.call(uuid, comm_id, {"op": "sum", "dtype": "<f8", "shape": [1000]},
                                [memoryview(x)])
        check(t == "comm_msg" and data["value"] == x.sum(), "comm sum %r" % data)
        t, data, bufs = cc.call(uuid, comm_id,
                                {"op": "scale", "dtype": "<i4", "shape": [2, 3], "factor": 2.5},
                                [memoryview(np.arange(6, dtype="<i4"))])
        y = np.frombuffer(bufs[0], dtype=data["dtype"]).reshape(data["shape"])
        check(np.array_equal(y, np.arange(6).reshape(2, 3) * 2.5), "comm scale -> %s" % y.tolist())
        m1 = np.random.default_rng(1).random((4, 3))
        m2 = np.random.default_rng(2).random((3, 5))
        t, data, bufs = cc.call(uuid, comm_id, {"op": "matmul", "dtype": "<f8", "shape": [4, 3],
                                                "dtype_b": "<f8", "shape_b": [3, 5]},
                                [memoryview(m1), memoryview(m2)])
        y = np.frombuffer(bufs[0], dtype="<f8").reshape(data["shape"])
        check(np.allclose(y, m1 @ m2), "comm matmul (4,3)@(3,5)")
        big = np.random.default_rng(3).random(1 << 20)
        t, data, bufs = cc.call(uuid, comm_id, {"op": "echo", "dtype": "<f8",
                                                "shape": [1 << 20]}, [memoryview(big)])
        check(np.array_equal(np.frombuffer(bufs[0], dtype="<f8"), big), "comm echo 8 MiB")
        t, data, bufs = cc.call(uuid, comm_id, {"op": "sum", "dtype": "<f8", "shape": [7]},
                                [memoryview(x)])
        check(data.get("status") == "error" and "bytes" in data.get("evalue", ""),
              "comm: a shape that does not match the buffer is refused: %r" % data)
        _, open_id = cc.open(uuid, "no.such.target")
        t, data, bufs = cc.recv_reply(open_id, timeout=10)
        check(t == "comm_close", "comm_open to an unknown target is answered comm_close")
    finally:
        cc.close()


def test_hostile_through_controller(cl, c, a):
    """Garbage through the mux and control queues (the controller forwards raw frames)."""
    with open(cl.client_file()) as f:
        import json
        info = json.load(f)
    ctx = zmq.Context.instance()
    uuid = c._engines[a].encode()
    for port in ("mux", "control"):
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect("%s:%d" % (info["interface"], info[port]))
        for frames in ([b"junk"], [b"<IDS|MSG>", b"sig"], [b"<IDS|MSG>", b"", b"{", b"{}",
                                                           b"{}", b"{}"],
                       [b"<IDS|MSG>", b"0" * 64, b"{}", b"{}", b"{}", b"{}", b"x" * 100000]):
            s.send_multipart([uuid] + frames)
        time.sleep(0.2)
        s.close()
    ar = execute(c, a, "1 + 1")
    check(ar.execute_result["data"]["text/plain"] == "2",
          "engine %d still serves after garbage on mux and control" % a)


def test_abort_heartbeat_kill_latejoin(cl, c, a, b):
    counts = counting_replies(c)
    # A runs for 10 s; heartbeats must keep it registered (dead after ~6 s of silence).
    t0 = time.time()
    long_ar = c[a].execute("sleep(10); 10", silent=False, block=False)
    queued = c[a].execute("w = 1; 777", silent=False, block=False)
    time.sleep(0.5)
    c.abort(jobs=queued.msg_ids, targets=[a], block=True)
    check(time.time() - t0 < 3, "abort_reply came while the execute runs (%.1f s)" %
          (time.time() - t0))
    # C joins late. A task (retries=1) may run on B or C; the one running it is SIGKILLed
    # mid-task and the other completes it.
    # (MPI_RANK-style requested id: the hub grants 7, which is free.)
    cl.start_cpp_engine("engine_c", "--mpi", env={"PMI_RANK": "7"})
    cid = cl.cpp_engine_id("engine_c")
    check(cid == 7, "the late engine asked for its MPI rank 7 as id and got %d" % cid)
    c.wait_for_engines(4, timeout=30)
    task = lb_execute(c, 'sleep(2); print("task done"); 99', targets=[b, cid], retries=1)
    deadline = time.time() + 10
    victim = None
    while time.time() < deadline and victim is None:
        qs = c.queue_status(targets=[b, cid])
        victim = next((e for e in (b, cid) if qs[e]["tasks"] == 1), None)
        time.sleep(0.05)
    check(victim is not None, "the task started on engine %s" % victim)
    survivor = cid if victim == b else b
    time.sleep(0.5)
    cl.kill("engine_b" if victim == b else "engine_c", signal.SIGKILL)
    t_kill = time.time()
    task.get(timeout=30)
    task.wait_for_output(timeout=10)
    check(task.engine_id == survivor and task.execute_result["data"]["text/plain"] == "99" and
          task.stdout == "task done\n",
          "task retried on engine %d, %.1f s after the kill" % (task.engine_id, time.time() - t_kill))
    time.sleep(1)
    check(counts.get(task.msg_ids[0]) == 1,
          "its result was delivered once (%s replies)" % counts.get(task.msg_ids[0]))
    deadline = time.time() + 15
    while time.time() < deadline and victim in c.ids:
        time.sleep(0.1)
    check(victim not in c.ids, "the killed engine was unregistered")
    check(victim == cid or task.engine_id == cid,
          "the late-joining engine %d got work (%s)" %
          (cid, "the task" if victim == cid else "the retry"))
    long_ar.get(timeout=20)
    long_ar.wait_for_output(timeout=10)
    ran = (long_ar.completed - long_ar.started).total_seconds()
    check(long_ar.execute_result["data"]["text/plain"] == "10" and ran >= 10,
          "the 10 s execute ran %.1f s on engine A" % ran)
    check(a in c.ids, "engine A stayed registered through its 10 s execute: %s" % c.ids)
    try:
        queued.get(timeout=10)
        check(False, "the aborted request is answered aborted")
    except ipp.error.TaskAborted:
        check(True, "the aborted request is answered aborted")
    return survivor


def main():
    exe = os.path.abspath(sys.argv[1])
    cl = Cluster(exe)
    c = None
    try:
        t0 = time.time()
        cl.start_controller()
        cl.start_cpp_engine("engine_a")
        cl.start_cpp_engine("engine_b")
        cl.start_py_engine("engine_py")
        a = cl.cpp_engine_id("engine_a")
        b = cl.cpp_engine_id("engine_b")
        c = cl.client()
        c.wait_for_engines(3, timeout=60)
        py = next(i for i in c.ids if i not in (a, b))
        print("cluster up in %.1f s: C++ engines %d, %d; Python engine %d" %
              (time.time() - t0, a, b, py), flush=True)
        test_basics(cl, c, a, b, py)
        test_comms(cl, c, a)
        test_hostile_through_controller(cl, c, a)
        survivor = test_abort_heartbeat_kill_latejoin(cl, c, a, b)
        # shutdown unregisters
        ids = list(c.ids)
        c.shutdown(targets=ids, block=True)
        deadline = time.time() + 15
        while time.time() < deadline and c.ids:
            time.sleep(0.1)
        check(c.ids == [], "shutdown unregistered every engine: %s" % c.ids)
        for name in ("engine_a", "engine_b" if survivor == b else "engine_c"):
            try:
                rc = cl.procs[name].wait(timeout=10)
            except Exception:
                rc = None
            check(rc == 0, "%s exited 0 after shutdown_request (rc %s)" % (name, rc))
        print("total %.1f s" % (time.time() - t0))
    finally:
        if c is not None:
            c.close()
        cl.stop_all()
        if FAILURES:
            for name in cl.logs:
                print("----", name, "----\n" + cl.log(name)[-3000:])
        else:
            shutil.rmtree(cl.dir, ignore_errors=True)
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
