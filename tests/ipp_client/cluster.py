"""Starts a throwaway ipyparallel cluster on 127.0.0.1 and runs a program against it.

    cluster.py [--engines N] [--cxx-engine EXE [--cxx-engines M]] [--ipcontroller-arg ARG]...
               [--curve] [--with-db] -- PROGRAM [ARGS...]

--curve starts the controller with IPP_ENABLE_CURVE=1 (CurveZMQ on every socket; the
connection files then carry curve_serverkey and an empty key). --with-db keeps the
controller's default in-memory DictDB (the hub's history and result queries need it)
instead of --nodb.

Debian's ipcontroller (--nodb, fast heartbeats so dead engines are noticed within ~2 s) with a
temporary profile dir, N Python ipengines and M C++ engines EXE (zcalc-ipengine). PROGRAM runs with ZSESSION_IPP_PROFILE set to
the profile dir once every engine registered; its exit status is this script's. Every process
started here is stopped by its pid, whatever happens (try/finally), and everything is bounded
in time.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import zmq
from jupyter_client.session import Session

START_TIMEOUT = 60


def count_engines(client_file):
    """Asks the hub how many engines it has (a connection_request, as any client does)."""
    with open(client_file) as f:
        info = json.load(f)
    session = Session(key=info["key"].encode(), signature_scheme=info["signature_scheme"])
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    if info.get("curve_serverkey"):
        public, secret = zmq.curve_keypair()
        sock.curve_serverkey = info["curve_serverkey"].encode("ascii")
        sock.curve_publickey = public
        sock.curve_secretkey = secret
    sock.connect(f"{info['interface']}:{info['registration']}")
    try:
        session.send(sock, "connection_request")
        if not sock.poll(2000):
            return 0
        _, msg = session.recv(sock)
        return len(msg["content"].get("engines", {}))
    finally:
        sock.close()


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.time() + 5
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _exit_on_signal(signum, _frame):
    # meson stops a timed-out test with SIGTERM: turn it into SystemExit so `finally` runs
    # and every process started here is stopped by its pid.
    raise SystemExit(128 + signum)


def main():
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    ap = argparse.ArgumentParser()
    ap.add_argument("--engines", type=int, default=2)
    ap.add_argument("--cxx-engine", default=None)
    ap.add_argument("--cxx-engines", type=int, default=1)
    ap.add_argument("--ipcontroller-arg", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=150)
    ap.add_argument("--curve", action="store_true")
    ap.add_argument("--with-db", action="store_true")
    ap.add_argument("program", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    program = args.program[1:] if args.program[:1] == ["--"] else args.program
    procs = []
    with tempfile.TemporaryDirectory(prefix="zsession-ipp-") as profile:
        logs = open(os.path.join(profile, "cluster.log"), "w")
        try:
            controller_env = dict(os.environ)
            controller_env.pop("IPP_ENABLE_CURVE", None)
            if args.curve:
                controller_env["IPP_ENABLE_CURVE"] = "1"
            procs.append(subprocess.Popen(
                ["ipcontroller", f"--profile-dir={profile}", "--ip=127.0.0.1"]
                + ([] if args.with_db else ["--nodb"])
                + ["--HeartMonitor.period=500", "--HeartMonitor.max_heartmonitor_misses=4",
                   "--log-level=WARN"] + args.ipcontroller_arg,
                env=controller_env, stdout=logs, stderr=subprocess.STDOUT))
            client_file = os.path.join(profile, "security", "ipcontroller-client.json")
            deadline = time.time() + START_TIMEOUT
            while not os.path.exists(client_file):
                if time.time() > deadline or procs[0].poll() is not None:
                    raise RuntimeError("ipcontroller did not write its connection file")
                time.sleep(0.1)
            for _ in range(args.engines):
                procs.append(subprocess.Popen(
                    ["ipengine", f"--profile-dir={profile}", "--log-level=WARN",
                     "--IPEngine.enable_nanny=False"],
                    stdout=logs, stderr=subprocess.STDOUT))
            total = args.engines
            if args.cxx_engine:
                for _ in range(args.cxx_engines):
                    procs.append(subprocess.Popen(
                        [args.cxx_engine, "--profile-dir", profile, "--wait", "30"],
                        stdout=logs, stderr=subprocess.STDOUT))
                total += args.cxx_engines
            while count_engines(client_file) < total:
                if time.time() > deadline:
                    raise RuntimeError(f"{total} engines did not register in time")
                time.sleep(0.25)
            env = dict(os.environ, ZSESSION_IPP_PROFILE=profile,
                       ZSESSION_IPP_ENGINE_PIDS=",".join(str(p.pid) for p in procs[1:]))
            run = subprocess.Popen(program, env=env)
            procs.append(run)
            try:
                rc = run.wait(args.timeout)
            except subprocess.TimeoutExpired:
                print(f"cluster.py: {program[0]} timed out after {args.timeout} s", flush=True)
                rc = 1
            if rc != 0:
                logs.flush()
                with open(os.path.join(profile, "cluster.log")) as f:
                    sys.stdout.write("---- cluster log ----\n" + f.read()[-6000:])
            return rc
        finally:
            stop(list(reversed(procs)))
            logs.close()


if __name__ == "__main__":
    sys.exit(main())
