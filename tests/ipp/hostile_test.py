"""zcalc-ipengine against a fake controller that sends hostile messages on every socket.

    /usr/bin/python3 hostile_test.py ZCALC_IPENGINE

The fake controller (pyzmq + jupyter_client Session, 127.0.0.1 only) binds the ports an
engine connection file names. It sends the engine malformed, unsigned, wrongly signed,
oversized and wrongly shaped messages on the registration socket, the heartbeat, the
mux/task/broadcast shell socket and control, and checks after each round that the engine
still serves. iopub is the engine's PUB: it cannot receive. Then it stops the heartbeat and
checks the lost-controller policies: exit (status 3) and --reregister (a new
registration_request with a fresh uuid). Every process is stopped by its pid in `finally`.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import zmq
from jupyter_client.session import Session

FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


class FakeController:
    def __init__(self, d, hb_period=200):
        self.ctx = zmq.Context()
        self.key = b"fake-controller-key"
        self.session = Session(key=self.key, username="fake-hub")
        self.hb_period = hb_period
        self.sock = {}
        for name, kind in [("registration", zmq.ROUTER), ("control", zmq.ROUTER),
                           ("mux", zmq.ROUTER), ("task", zmq.ROUTER), ("broadcast", zmq.ROUTER),
                           ("iopub", zmq.SUB), ("hb_ping", zmq.PUB), ("hb_pong", zmq.ROUTER)]:
            s = self.ctx.socket(kind)
            s.linger = 0
            if kind == zmq.ROUTER and name != "registration":
                s.setsockopt(zmq.ROUTER_MANDATORY, 1)
            if kind == zmq.SUB:
                s.setsockopt(zmq.SUBSCRIBE, b"")
            port = s.bind_to_random_port("tcp://127.0.0.1")
            self.sock[name] = (s, port)
        info = {n: p for n, (s, p) in self.sock.items()}
        info["broadcast"] = [info["broadcast"]]
        info.update(interface="tcp://127.0.0.1", key=self.key.decode(), pack="json",
                    unpack="json", signature_scheme="hmac-sha256", curve_serverkey=None,
                    location="test", ssh="")
        self.file = os.path.join(d, "engine.json")
        with open(self.file, "w") as f:
            json.dump(info, f)
        self.beating = True
        self.pongs = []
        self.extra_pings = []  # frame lists the heart thread sends (one thread per socket)
        self._stop = False
        self.hb = threading.Thread(target=self._heart, daemon=True)

    def s(self, name):
        return self.sock[name][0]

    def _heart(self):
        ping, pong = self.s("hb_ping"), self.s("hb_pong")
        n = 0
        while not self._stop:
            while self.extra_pings:
                ping.send_multipart(self.extra_pings.pop(0))
            if self.beating:
                n += 1
                ping.send(str(n).encode())
            t_end = time.time() + self.hb_period / 1000
            while time.time() < t_end:
                if pong.poll(20):
                    self.pongs.append(pong.recv_multipart())

    def recv(self, name, timeout=10):
        s = self.s(name)
        if not s.poll(int(timeout * 1000)):
            raise TimeoutError("nothing on " + name)
        frames = s.recv_multipart()
        idents, msg = self.session.feed_identities(frames)
        return idents, self.session.deserialize(msg)

    def send_raw(self, name, frames, timeout=10):
        deadline = time.time() + timeout
        while True:
            try:
                self.s(name).send_multipart(frames)
                return
            except zmq.ZMQError as e:  # EHOSTUNREACH until the engine has connected
                if e.errno != zmq.EHOSTUNREACH or time.time() > deadline:
                    raise
                time.sleep(0.05)

    def request(self, name, ident, msg_type, content, metadata=None, timeout=10):
        """Sends a signed request to the engine and returns its reply on the same socket."""
        msg = self.session.msg(msg_type, content, metadata=metadata or {})
        frames = self.session.serialize(msg, ident=[ident, b"client-1"])
        self.send_raw(name, frames)
        while True:
            idents, reply = self.recv(name, timeout)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return idents, reply

    def close(self):
        self._stop = True
        if self.hb.is_alive():
            self.hb.join(2)
        for s, _ in self.sock.values():
            s.close()
        self.ctx.term()


def garbage(session, ident):
    """Hostile messages addressed to `ident` through a ROUTER (frame lists)."""
    bad_key = Session(key=b"wrong", username="x")
    good = session.serialize(session.msg("execute_request", {"code": 5}), ident=[ident])
    wrong_sig = bad_key.serialize(bad_key.msg("execute_request", {"code": "1"}), ident=[ident])
    odd_md = session.serialize(session.msg("execute_request", {"code": "1+1"},
                                           metadata={"is_broadcast": "yes"}), ident=[ident])
    return [
        [ident, b"junk"],
        [ident, b"<IDS|MSG>"],
        [ident, b"<IDS|MSG>", b"sig", b"{}", b"{}", b"{}", b"{}"],
        [ident, b"<IDS|MSG>", b"", b"{not json", b"{}", b"{}", b"{}"],
        [ident] + [b"x"] * 5000,
        [ident, b"<IDS|MSG>", b"0" * 64, b"[]", b"{}", b"{}", b"{}"] + [b"b"] * 100,
        good,  # signed, but code is a number: wrong shape
        wrong_sig,
        odd_md,  # signed, metadata fields of the wrong type: answered with defaults
        session.serialize(session.msg("no_such_request", {}), ident=[ident]),
        session.serialize(session.msg("comm_msg", {"comm_id": 7, "data": []}), ident=[ident]),
        session.serialize(session.msg("comm_open", {"comm_id": "c", "target_name": "zcalc.arrays",
                                                    "data": {"op": "matmul", "shape": [1 << 40,
                                                                                      1 << 40]}}),
                          ident=[ident]),
        session.serialize(session.msg("abort_request", {"msg_ids": 5}), ident=[ident]),
        [ident, b"<IDS|MSG>", b"", b"{}", b"{}", b"{}", b"{}", b"x" * (8 << 20)],
    ]


def run_engine(exe, fc, d, name, *extra):
    log = open(os.path.join(d, name + ".log"), "wb")
    return subprocess.Popen([exe, "--file", fc.file, "--max-missed-heartbeats", "3", *extra],
                            stdout=log, stderr=subprocess.STDOUT), log


def register(fc, reply_hostile=True):
    idents, req = fc.recv("registration")
    uuid = req["content"]["uuid"]
    reg = fc.s("registration")
    if reply_hostile:
        for frames in garbage(fc.session, idents[0]):
            reg.send_multipart(frames)
        bad = Session(key=b"wrong")
        reg.send_multipart(bad.serialize(bad.msg("registration_reply", {"status": "ok", "id": 9}),
                                         ident=idents))
    reply = fc.session.msg("registration_reply",
                           {"status": "ok", "id": 0, "hb_period": fc.hb_period},
                           parent=req)
    reg.send_multipart(fc.session.serialize(reply, ident=idents))
    return uuid


def serves(fc, name, uuid, code="6*7"):
    idents, rep = fc.request(name, uuid.encode(), "execute_request",
                             {"code": code, "silent": False})
    return rep["content"].get("status") == "ok"


def main():
    exe = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="zsession-ipp-hostile-")
    fc = FakeController(d)
    procs = []
    try:
        fc.hb.start()
        p, log = run_engine(exe, fc, d, "engine")
        procs.append(p)
        uuid = register(fc)
        check(True, "registered after garbage on the registration socket (uuid %s)" % uuid[:8])
        # heartbeat: hostile pings (many frames, oversized), then normal ones must be echoed
        time.sleep(0.5)
        before = len(fc.pongs)
        fc.extra_pings += [[b"p"] * 100, [b"x" * (1 << 20)]]
        time.sleep(1.5)
        pongs = list(fc.pongs)
        check(len(pongs) >= before + 4 and all(f[0] == uuid.encode() for f in pongs[before:]),
              "heartbeats echoed with identity = uuid after hostile pings (%d pongs after)" %
              (len(pongs) - before))
        for name in ("mux", "task", "broadcast", "control"):
            for frames in garbage(fc.session, uuid.encode()):
                fc.send_raw(name, frames)
            time.sleep(0.2)
            if name == "control":
                _, rep = fc.request(name, uuid.encode(), "kernel_info_request", {})
                ok = rep["content"].get("implementation") == "zcalc-ipengine"
            else:
                ok = serves(fc, name, uuid)
            check(ok, "still serves on %s after %d hostile messages" %
                  (name, len(garbage(fc.session, b"x"))))
        # The wrong-shaped metadata request was answered with defaults.
        _, rep = fc.request("mux", uuid.encode(), "execute_request", {"code": "1"},
                            metadata={"is_coalescing": 3, "original_msg_id": None})
        check(rep["metadata"].get("is_coalescing") is False and
              rep["metadata"].get("engine") == uuid, "metadata of the wrong type: defaults")
        # The optional interpreter requests, answered from calc.
        _, rep = fc.request("mux", uuid.encode(), "complete_request", {"code": "x = sq",
                                                                      "cursor_pos": 6})
        check("sqrt" in rep["content"].get("matches", []) and
              rep["content"].get("cursor_start") == 4, "complete_request: %s" % rep["content"])
        _, rep = fc.request("mux", uuid.encode(), "inspect_request", {"code": "sqrt",
                                                                     "cursor_pos": 2})
        check(rep["content"].get("found") is True and
              "square root" in rep["content"]["data"].get("text/plain", ""), "inspect_request")
        _, rep = fc.request("mux", uuid.encode(), "is_complete_request", {"code": "(1 +"})
        check(rep["content"].get("status") == "incomplete", "is_complete_request: %s" %
              rep["content"].get("status"))
        _, rep = fc.request("mux", uuid.encode(), "kernel_info_request", {})
        check(rep["content"].get("language_info", {}).get("name") == "calc", "kernel_info on shell")
        check(p.poll() is None, "the engine process is alive")
        # Lost controller, exit policy: no pings for 3 x (200 + 500) ms.
        fc.beating = False
        t0 = time.time()
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 3, "no heartbeats: the engine exits 3 after %.1f s (rc %s)" %
              (time.time() - t0, rc))
        # Lost controller, reregister policy.
        fc.beating = True
        p2, log2 = run_engine(exe, fc, d, "engine2", "--reregister")
        procs.append(p2)
        uuid1 = register(fc, reply_hostile=False)
        time.sleep(0.5)
        fc.beating = False
        idents, req = fc.recv("registration", timeout=10)
        uuid2 = req["content"].get("uuid")
        check(req["header"]["msg_type"] == "registration_request" and uuid2 != uuid1,
              "--reregister: registers again with a fresh uuid after the controller was lost")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        fc.close()
        if FAILURES:
            for f in os.listdir(d):
                if f.endswith(".log"):
                    print("----", f, "----\n" + open(os.path.join(d, f)).read()[-4000:])
        shutil.rmtree(d, ignore_errors=True)
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
