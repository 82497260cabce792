"""The zcalc kernel with CurveZMQ (docs/CURVEZMQ.md): a connection file with the kernel's
curve_secretkey and an allow-list of client keys. An allowed client is served on shell and
heartbeat; a plain client, a client with an unknown key, and a client with a wrong server key
get nothing.

    kernel_curve_test.py KERNEL_EXECUTABLE
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest
import uuid

import zmq
from jupyter_client.session import Session

WAIT_MS = 1500  # how long a refused client waits to see that nothing comes back


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class KernelCurve(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server_public, server_secret = zmq.curve_keypair()
        cls.allowed = zmq.curve_keypair()
        names = ["shell_port", "control_port", "stdin_port", "iopub_port", "hb_port"]
        cls.info = dict(zip(names, free_ports(len(names))))
        cls.info.update(transport="tcp", ip="127.0.0.1", key=uuid.uuid4().hex,
                        signature_scheme="hmac-sha256",
                        curve_secretkey=server_secret.decode(),
                        curve_client_keys=[cls.allowed[0].decode()])
        cls.dir = tempfile.TemporaryDirectory(prefix="zcalc-curve-")
        path = os.path.join(cls.dir.name, "kernel.json")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            json.dump(cls.info, f)
        cls.ctx = zmq.Context()
        cls.session = Session(key=cls.info["key"].encode())
        cls.kernel = subprocess.Popen([sys.argv[1], path])  # last: tearDownClass kills it

    @classmethod
    def tearDownClass(cls):
        cls.kernel.kill()
        cls.kernel.wait()
        cls.ctx.term()
        cls.dir.cleanup()

    def connect(self, channel, kind=zmq.DEALER, keys=None, server_key=None):
        sock = self.ctx.socket(kind)
        sock.linger = 0
        if keys:
            sock.curve_serverkey = server_key or self.server_public
            sock.curve_publickey, sock.curve_secretkey = keys
        sock.connect(f"tcp://127.0.0.1:{self.info[channel]}")
        self.addCleanup(sock.close)
        return sock

    def kernel_info(self, sock, wait_ms):
        """The kernel_info_reply's content, or None when none came within wait_ms."""
        msg = self.session.msg("kernel_info_request")
        self.session.send(sock, msg)
        if not sock.poll(wait_ms):
            return None
        _, rest = self.session.feed_identities(sock.recv_multipart())
        reply = self.session.deserialize(rest)
        self.assertEqual(reply["parent_header"]["msg_id"], msg["header"]["msg_id"])
        return reply["content"]

    def test_allowed_client_is_served(self):
        content = self.kernel_info(self.connect("shell_port", keys=self.allowed), 15000)
        self.assertIsNotNone(content, "allowed client not served")
        self.assertEqual(content["status"], "ok")
        hb = self.connect("hb_port", zmq.REQ, keys=self.allowed)
        hb.send(b"ping")
        self.assertTrue(hb.poll(15000))
        self.assertEqual(hb.recv(), b"ping")

    def test_strangers_get_nothing(self):
        cases = {
            "plain client": None,
            "unknown client key": zmq.curve_keypair(),
        }
        for name, keys in cases.items():
            with self.subTest(name):
                self.assertIsNone(self.kernel_info(self.connect("shell_port", keys=keys),
                                                   WAIT_MS))
        with self.subTest("wrong server key"):
            wrong = zmq.curve_keypair()[0]
            sock = self.connect("shell_port", keys=self.allowed, server_key=wrong)
            self.assertIsNone(self.kernel_info(sock, WAIT_MS))
        with self.subTest("plain heartbeat"):
            hb = self.connect("hb_port", zmq.REQ)
            hb.send(b"ping")
            self.assertFalse(hb.poll(WAIT_MS))
        # ... and the allowed client is still served.
        self.assertIsNotNone(self.kernel_info(self.connect("shell_port", keys=self.allowed),
                                              15000))
        self.assertIsNone(self.kernel.poll())


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
