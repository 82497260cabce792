"""The zcalc kernel under malformed input: every bad message on shell and control is logged
and dropped, and the kernel keeps answering kernel_info.

    kernel_robustness_test.py KERNEL_EXECUTABLE
"""
import hashlib
import hmac
import json
import os
import sys
import tempfile
import time
import unittest
import uuid

import kernel_env

if __name__ == "__main__":
    kernel_env.setup(sys.argv[1])

import zmq  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402
from jupyter_kernel_test.msgspec_v5 import validate_message  # noqa: E402

TIMEOUT_MS = 15000
DELIM = b"<IDS|MSG>"


class KernelRobustness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.log = tempfile.NamedTemporaryFile(prefix="zcalc-stderr-", suffix=".log")
        cls.km = KernelManager(kernel_name="zcalc")
        cls.km.start_kernel(stderr=open(cls.log.name, "w"))
        cls.kc = cls.km.client()
        cls.kc.start_channels()
        cls.kc.wait_for_ready(timeout=30)
        cls.info = cls.km.get_connection_info()
        cls.key = cls.km.session.key
        cls.ctx = zmq.Context()

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel()
        cls.ctx.term()

    def dealer(self, channel):
        sock = self.ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.rcvtimeo = TIMEOUT_MS
        sock.connect(f"tcp://{self.info['ip']}:{self.info[channel + '_port']}")
        self.addCleanup(sock.close)
        return sock

    def sign(self, parts):
        h = hmac.new(self.key, digestmod=hashlib.sha256)
        for p in parts:
            h.update(p)
        return h.hexdigest().encode()

    def header(self, msg_type="kernel_info_request", **drop):
        h = self.km.session.msg_header(msg_type)
        h["date"] = h["date"].isoformat()
        for k in drop:
            del h[k]
        return json.dumps(h).encode()

    def signed(self, header=None, parent=b"{}", metadata=None, content=b"{}"):
        # A fresh nonce in metadata makes each message's signature unique, so a bad message
        # sent on both channels reaches the parser both times instead of being a replay.
        metadata = metadata or json.dumps({"nonce": uuid.uuid4().hex}).encode()
        parts = [header or self.header(), parent, metadata, content]
        return [DELIM, self.sign(parts)] + parts

    def malformed_messages(self):
        """(name, frames) of each bad message, all sent on one socket in this order."""
        good = self.signed()
        return [
            ("only the delimiter", [DELIM]),
            ("too few frames after the delimiter", [DELIM, good[1], good[2], good[3]]),
            ("no delimiter", [b"garbage", b"more garbage"]),
            ("too many identities", [b"id"] * 40 + good),
            ("bad signature", [DELIM, b"0" * 64] + good[2:]),
            ("signature of the wrong length", [DELIM, b"abc"] + good[2:]),
            ("unsigned", [DELIM, b""] + good[2:]),
            ("tampered content", good[:5] + [b'{"x": 1}']),
            ("invalid JSON header", self.signed(header=b"{not json")),
            ("invalid JSON content", self.signed(content=b'{"code": "1+1"')),
            ("invalid UTF-8 and NUL", self.signed(content=b'{"a": "\xff\x00"}')),
            ("content not a map", self.signed(content=b"[1, 2]")),
            ("header lacking msg_id", self.signed(header=self.header(msg_id=None))),
            ("huge declared size (msgpack array32)", self.signed(content=b"\xdd\xff\xff\xff\xff")),
            ("huge declared size (msgpack str32)", self.signed(header=b"\xdb\xff\xff\xff\xf0abc")),
            ("nesting beyond the limit", self.signed(content=b'{"a":' + b"[" * 100000)),
            ("header over limits.max_map_bytes", self.signed(header=b" " * (2 << 20) + b"{}")),
            ("content of the wrong shape",
             self.signed(header=self.header("execute_request"), content=b'{"code": 5}')),
            ("unknown message type", self.signed(header=self.header("no_such_request"))),
        ]

    def assert_kernel_info_answered(self, sock):
        msg = self.km.session.msg("kernel_info_request")
        self.km.session.send(sock, msg)
        frames = sock.recv_multipart()  # times out (zmq.Again) if the kernel stopped serving
        _, rest = self.km.session.feed_identities(frames)
        reply = self.km.session.deserialize(rest)
        validate_message(reply, "kernel_info_reply", msg["header"]["msg_id"])

    def test_invalid_utf8_in_code_is_replaced_not_fatal(self):
        sock = self.dealer("shell")
        code = b'{"code": "print(\\"a\xffb\\")\\n6*7", "silent": false}'
        sock.send_multipart(self.signed(header=self.header("execute_request"), content=code))
        _, rest = self.km.session.feed_identities(sock.recv_multipart())
        reply = self.km.session.deserialize(rest)
        validate_message(reply, "execute_reply")
        self.assertEqual(reply["content"]["status"], "ok")

    def check_channel(self, channel):
        sock = self.dealer(channel)
        bad = self.malformed_messages()
        for name, frames in bad:
            with self.subTest(channel=channel, case=name):
                sock.send_multipart(frames)
        self.assert_kernel_info_answered(sock)
        # A replay of a good message is dropped too: only the first gets an answer.
        good = self.signed()
        sock.send_multipart(good)
        sock.send_multipart(good)
        sock.recv_multipart()
        self.assert_kernel_info_answered(sock)  # (the next reply is to this, not the replay)
        self.assertTrue(self.km.is_alive())
        return len(bad) + 1

    def test_shell(self):
        self.check_channel("shell")

    def test_control(self):
        self.check_channel("control")

    def test_frame_over_maxmsgsize_drops_only_that_peer(self):
        # 32 MiB > the kernel's ZMQ_MAXMSGSIZE (16 MiB): libzmq drops the connection before
        # allocating; the kernel never sees the message, and other peers are served.
        sock = self.dealer("shell")
        sock.send_multipart(self.signed(content=b" " * (32 << 20)))
        time.sleep(0.5)
        self.assert_kernel_info_answered(self.dealer("shell"))
        self.assertEqual(self.kc.kernel_info(reply=True, timeout=15)["content"]["status"], "ok")

    def test_zz_every_drop_was_logged(self):
        # Runs last (alphabetical order): both channels' bad messages are in the log.
        deadline = time.monotonic() + 5
        expected = 2 * len(self.malformed_messages()) + 2  # + the replays
        while time.monotonic() < deadline:
            with open(self.log.name) as f:
                lines = [l for l in f if "dropped" in l or "ignored" in l]
            if len(lines) >= expected:
                break
            time.sleep(0.1)
        self.assertGreaterEqual(len(lines), expected, "".join(lines))
        self.assertTrue(any("signature" in l for l in lines))
        self.assertTrue(any("limit" in l for l in lines))


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
