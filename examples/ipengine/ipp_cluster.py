"""A throwaway ipyparallel cluster on 127.0.0.1 for tests, the demo and the benchmark.

Starts Debian's ipcontroller with a temporary profile directory, C++ engines (zcalc-ipengine)
and Python ipengines as child processes, and stops every one of them by its pid on exit
(SIGTERM, then SIGKILL after a grace period). Also a raw comm client (jupyter_client Session
over the controller's mux and iopub) to send numpy arrays to an engine's comm target.

Run with /usr/bin/python3 (Debian's ipyparallel, pyzmq, jupyter_client, numpy).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import zmq
from jupyter_client.session import Session

IPCONTROLLER = shutil.which("ipcontroller", path="/usr/bin") or "ipcontroller"
IPENGINE = shutil.which("ipengine", path="/usr/bin") or "ipengine"


class Cluster:
    """Controller + engines. Use as a context manager; every process is stopped on exit."""

    def __init__(self, engine_exe, hb_period_ms=1000, hb_misses=5, nodb=True, workdir=None):
        self.engine_exe = engine_exe
        self.hb_period_ms = hb_period_ms
        self.hb_misses = hb_misses
        self.nodb = nodb
        self._own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="zsession-ipp-")
        self.procs = {}  # name -> Popen
        self.logs = {}  # name -> path

    # -- processes -----------------------------------------------------------------------------
    def _spawn(self, name, argv, env=None):
        log = os.path.join(self.dir, name + ".log")
        self.logs[name] = log
        with open(log, "wb") as f:
            p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, env=env,
                                 stdin=subprocess.DEVNULL)
        self.procs[name] = p
        return p

    def start_controller(self, timeout=30):
        argv = [IPCONTROLLER, "--profile-dir=" + self.dir, "--ip=127.0.0.1",
                "--HeartMonitor.period=%d" % self.hb_period_ms,
                "--HeartMonitor.max_heartmonitor_misses=%d" % self.hb_misses,
                "--log-level=INFO"]
        if self.nodb:
            argv.append("--nodb")
        self._spawn("controller", argv)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(self.client_file()) and os.path.exists(self.engine_file()):
                try:
                    with open(self.client_file()) as f:
                        json.load(f)
                    return
                except ValueError:
                    pass
            if self.procs["controller"].poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("controller did not start:\n" + self.log("controller"))

    def engine_file(self):
        return os.path.join(self.dir, "security", "ipcontroller-engine.json")

    def client_file(self):
        return os.path.join(self.dir, "security", "ipcontroller-client.json")

    def start_cpp_engine(self, name, *extra, env=None):
        full_env = dict(os.environ, **env) if env else None
        return self._spawn(name, [self.engine_exe, "--profile-dir", self.dir, *extra],
                           env=full_env)

    def start_py_engine(self, name):
        return self._spawn(name, [IPENGINE, "--profile-dir=" + self.dir, "--log-level=WARN"])

    def log(self, name):
        try:
            with open(self.logs[name], errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cpp_engine_id(self, name, timeout=30):
        """The id a C++ engine logged when it registered."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.findall(r"registered as engine (\d+)", self.log(name))
            if m:
                return int(m[-1])
            if self.procs[name].poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("engine %s did not register:\n%s" % (name, self.log(name)))

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs[name]
        if p.poll() is None:
            p.send_signal(sig)
        return p.wait(timeout=30)

    def stop_all(self):
        """Stops every process started here, by pid: SIGTERM, then SIGKILL after 5 s."""
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        deadline = time.time() + 5
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()
        if self._own_dir and exc[0] is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif exc[0] is not None:
            print("cluster logs kept in", self.dir)
        return False

    # -- clients -------------------------------------------------------------------------------
    def client(self):
        import ipyparallel as ipp

        return ipp.Client(self.client_file(), profile_dir=self.dir)

    def comm_client(self):
        return CommClient(self.client_file())


class CommClient:
    """Jupyter comms to engines through the controller's mux, replies read from its iopub.

    Uses its own Session (same key), so ipyparallel's Client ignores these messages.
    """

    def __init__(self, client_file):
        with open(client_file) as f:
            info = json.load(f)
        self.session = Session(key=info["key"].encode(), signature_scheme=info["signature_scheme"],
                               username="comm-client")
        self.ctx = zmq.Context()
        url = lambda port: "%s:%d" % (info["interface"], port)
        self.mux = self.ctx.socket(zmq.DEALER)
        self.mux.linger = 0
        self.mux.connect(url(info["mux"]))
        self.iopub = self.ctx.socket(zmq.SUB)
        self.iopub.linger = 0
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"comm-")
        self.iopub.connect(url(info["iopub"]))
        time.sleep(0.3)  # let the subscription reach the controller's PUB

    def close(self):
        self.mux.close()
        self.iopub.close()
        self.ctx.term()

    def send(self, engine_uuid, msg_type, content, buffers=None):
        msg = self.session.msg(msg_type, content)
        self.session.send(self.mux, msg, ident=engine_uuid.encode(), buffers=buffers or [])
        return msg["header"]["msg_id"]

    def open(self, engine_uuid, target, data=None, buffers=None):
        """Opens a comm; returns (comm_id, msg_id of the comm_open)."""
        comm_id = uuid.uuid4().hex
        msg_id = self.send(engine_uuid, "comm_open",
                           {"comm_id": comm_id, "target_name": target, "data": data or {}},
                           buffers)
        return comm_id, msg_id

    def recv_reply(self, parent_id, timeout=60):
        """The first iopub comm message whose parent is parent_id: (msg_type, data, buffers)."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0 or not self.iopub.poll(int(left * 1000)):
                raise TimeoutError("no comm reply to %s" % parent_id)
            frames = self.iopub.recv_multipart(copy=False)
            idents, msg = self.session.feed_identities(frames, copy=False)
            msg = self.session.deserialize(msg, content=True, copy=False)
            if msg["parent_header"].get("msg_id") == parent_id:
                return msg["header"]["msg_type"], msg["content"].get("data", {}), msg["buffers"]

    def call(self, engine_uuid, comm_id, data, buffers=None, timeout=60):
        msg_id = self.send(engine_uuid, "comm_msg", {"comm_id": comm_id, "data": data}, buffers)
        return self.recv_reply(msg_id, timeout)


def execute(client, eid, code, silent=False, timeout=60):
    """Direct execute on engine eid, waiting for its outputs (view.execute is silent by
    default, which hides execute_input/execute_result)."""
    ar = client[eid].execute(code, silent=silent, block=False)
    ar.get(timeout=timeout)
    ar.wait_for_output(timeout=timeout)
    return ar


def lb_execute(client, code, targets=None, retries=0):
    """Load-balanced execute: an execute_request through the task scheduler (ipyparallel's
    LoadBalancedView only offers apply). Returns an AsyncResult."""
    import ipyparallel as ipp

    md = dict(after=[], follow=[], timeout=None, retries=retries,
              targets=[client._engines[t] for t in (targets or [])])
    # Through the ZMQStream, not the raw socket: a raw send from the IO thread can swallow
    # the edge-triggered read event and leave a reply unread (seen with 200 quick tasks).
    fut = client.send_execute_request(client._task_stream, code, silent=False, metadata=md)
    return ipp.AsyncResult(client, fut, fname="execute", owner=True)


def pipelined(submit, n, window=16, timeout=60):
    """Calls submit(i) for i < n keeping at most `window` AsyncResults in flight; returns
    them all, completed."""
    done, flight = [], []
    for i in range(n):
        if len(flight) >= window:
            ar = flight.pop(0)
            ar.get(timeout=timeout)
            done.append(ar)
        flight.append(submit(i))
    for ar in flight:
        ar.get(timeout=timeout)
        done.append(ar)
    return done


def direct_execute(client, eid, code, silent=True):
    """view.execute without the view: an execute_request to one engine through the client's
    mux ZMQStream (DirectView sends on the raw socket, see lb_execute). Returns an
    AsyncResult."""
    import ipyparallel as ipp

    ident = client._engines[eid].encode()
    fut = client.send_execute_request(client._mux_stream, code, silent=silent, ident=ident)
    return ipp.AsyncResult(client, fut, fname="execute", targets=eid, owner=True)
