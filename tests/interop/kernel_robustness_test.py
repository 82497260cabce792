"""The zcalc kernel under malformed input: every bad message on shell and control is logged
and dropped, every signed request it cannot serve gets an error reply, what it keeps is
bounded, and after each case the kernel keeps answering kernel_info.

    kernel_robustness_test.py KERNEL_EXECUTABLE
"""
import hashlib
import hmac
import json
import mmap
import os
import sys
import tempfile
import time
import unittest
import uuid

import kernel_env

if __name__ == "__main__":
    kernel_env.setup(sys.argv[1])
    # Under AddressSanitizer (the suite's build-asan), freed blocks wait in a quarantine of
    # 256 MiB by default, which by itself grows the kernel's RSS across the 15 MiB executes of
    # test_history_is_bounded. A small quarantine keeps use-after-free detection for ordinary
    # objects (larger blocks go back at once) and lets RSS measure retention.
    if "ASAN_OPTIONS" in os.environ:
        os.environ["ASAN_OPTIONS"] += ":quarantine_size_mb=8"

import zmq  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402
from jupyter_kernel_test.msgspec_v5 import msg_structure_validator, validate_message  # noqa: E402

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
            ("unknown message type", self.signed(header=self.header("no_such_request"))),
        ]

    def kernel_pid(self):
        return self.km.provisioner.process.pid

    def kernel_rss(self):
        with open(f"/proc/{self.kernel_pid()}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def request(self, sock, msg_type, content):
        """Sends a signed request with raw JSON `content` bytes; returns (msg_id, reply)."""
        header = self.header(msg_type)
        sock.send_multipart(self.signed(header=header, content=content))
        _, rest = self.km.session.feed_identities(sock.recv_multipart())
        return json.loads(header)["msg_id"], self.km.session.deserialize(rest)

    def assert_error_reply(self, reply, msg_type, msg_id, ename):
        validate_message(reply, msg_type, msg_id)
        content = reply["content"]
        self.assertEqual(content["status"], "error")
        self.assertEqual(content["ename"], ename)
        self.assertTrue(content["evalue"])
        self.assertTrue(content["traceback"] and all(isinstance(t, str) for t in content["traceback"]))

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

    def test_wrong_typed_content_gets_an_error_reply(self):
        # Each was answered by nothing at all before: the client waited forever.
        cases = [
            ("execute_request", b'{"code": 5}'),
            ("execute_request", b'{"code": "1+1", "silent": "yes"}'),
            ("execute_request", b'{"code": "1+1", "store_history": 1}'),
            ("execute_request", b'{"code": ["zz_never = 1"]}'),
            ("complete_request", b'{"code": "sq", "cursor_pos": 18446744073709551615}'),
            ("inspect_request", b'{"code": "sqrt", "cursor_pos": "2"}'),
            ("is_complete_request", b'{"code": null}'),
            ("history_request", b'{"hist_access_type": "tail", "n": "10"}'),
            ("history_request", b'{"hist_access_type": 3}'),
            ("shutdown_request", b'{"restart": "no"}'),
            ("shutdown_request", b'{"restart": 1}'),
        ]
        sock = self.dealer("shell")
        for msg_type, content in cases:
            with self.subTest(msg_type=msg_type, content=content):
                msg_id, reply = self.request(sock, msg_type, content)
                reply_type = msg_type.replace("_request", "_reply")
                if reply_type == "is_complete_reply":  # its statuses have no "error"
                    validate_message(reply, reply_type, msg_id)
                    self.assertEqual(reply["content"]["status"], "unknown")
                else:
                    self.assert_error_reply(reply, reply_type, msg_id, "InvalidRequest")
                self.assert_kernel_info_answered(sock)
        self.assertTrue(self.km.is_alive())  # the bad shutdown_requests shut nothing down
        # Nothing of the bad execute_requests ran.
        reply = self.kc.execute_interactive("zz_never", timeout=15)
        self.assertEqual(reply["content"]["status"], "error")

    def test_execute_on_control_is_refused_not_executed(self):
        control = self.dealer("control")
        for msg_type, content in [("execute_request", b'{"code": "zz_control = 7"}'),
                                  ("complete_request", b'{"code": "sq", "cursor_pos": 2}'),
                                  ("history_request", b'{"hist_access_type": "tail", "n": 3}')]:
            with self.subTest(msg_type=msg_type):
                msg_id, reply = self.request(control, msg_type, content)
                self.assert_error_reply(reply, msg_type.replace("_request", "_reply"), msg_id,
                                        "WrongChannel")
                self.assert_kernel_info_answered(control)
        reply = self.kc.execute_interactive("zz_control", timeout=15)
        self.assertEqual(reply["content"]["status"], "error")  # zz_control was never set
        # The same request on shell is served.
        msg_id, reply = self.request(self.dealer("shell"), "execute_request",
                                     b'{"code": "zz_shell = 7"}')
        validate_message(reply, "execute_reply", msg_id)
        self.assertEqual(reply["content"]["status"], "ok")

    def test_comm_open_for_an_unknown_target_is_closed(self):
        comm_id = uuid.uuid4().hex
        msg = self.kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "no_such",
                                                "data": {}})
        self.kc.shell_channel.send(msg)
        deadline = time.monotonic() + 15
        while True:
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "no comm_close on iopub")
            m = self.kc.get_iopub_msg(timeout=left)
            if m["msg_type"] == "comm_close" and m["content"]["comm_id"] == comm_id:
                break
        msg_structure_validator.validate(m)  # (msgspec_v5 has no schema for comm content)
        self.assertEqual(m["content"], {"comm_id": comm_id, "data": {}})
        self.assertEqual(m["parent_header"]["msg_id"], msg["header"]["msg_id"])
        # A comm_open whose comm_id is not a string cannot be closed: logged, and served on.
        sock = self.dealer("shell")
        sock.send_multipart(self.signed(header=self.header("comm_open"),
                                        content=b'{"comm_id": 5, "target_name": "x"}'))
        self.assert_kernel_info_answered(sock)

    def test_heartbeat_refuses_a_huge_ping(self):
        before = self.kernel_rss()
        big = self.ctx.socket(zmq.REQ)
        big.linger = 0
        self.addCleanup(big.close)
        big.connect(f"tcp://{self.info['ip']}:{self.info['hb_port']}")
        big.send(mmap.mmap(-1, 200 << 20), copy=False)  # 200 MB of untouched zero pages
        self.assertEqual(big.poll(2000), 0, "a 200 MB ping was echoed")
        self.assertLess(self.kernel_rss() - before, 16 << 20)
        # Other peers' pings are echoed.
        hb = self.ctx.socket(zmq.REQ)
        hb.linger = 0
        hb.rcvtimeo = TIMEOUT_MS
        self.addCleanup(hb.close)
        hb.connect(f"tcp://{self.info['ip']}:{self.info['hb_port']}")
        hb.send(b"ping")
        self.assertEqual(hb.recv(), b"ping")
        self.assert_kernel_info_answered(self.dealer("shell"))

    def test_history_is_bounded(self):
        # 15 MiB of code, executed 8 times: before, each copy was kept forever (+120 MiB).
        # RSS is compared after two runs, once the allocator has grown to what one run needs;
        # a sample can catch an iopub message still queued, so the least of the last three
        # is compared (retention would raise all three by 75 MiB or more).
        code = "1 + 1 # " + "a" * (15 << 20)
        rss = []
        for _ in range(8):
            reply = self.kc.execute(code, reply=True, timeout=60)
            self.assertEqual(reply["content"]["status"], "ok")
            time.sleep(0.2)
            rss.append(self.kernel_rss())
        grown = min(rss[-3:]) - rss[1]
        self.assertLess(grown, 30 << 20, f"kernel RSS grew by {grown >> 20} MiB: {rss}")
        msg_id = self.kc.history(hist_access_type="tail", n=8, output=False)
        reply = self.kc.get_shell_msg(timeout=15)
        validate_message(reply, "history_reply", msg_id)
        entries = reply["content"]["history"]
        self.assertEqual(len(entries), 8)
        for _, _, text in entries:
            self.assertLessEqual(len(text.encode()), 16 << 10)
            self.assertTrue(text.startswith("1 + 1 # aaaa"))
            self.assertIn("more bytes not kept in history", text)
        # Many small entries: at most 1000 kept, the newest.
        sock = self.dealer("shell")
        for i in range(1100):
            sock.send_multipart(self.signed(header=self.header("execute_request"),
                                            content=json.dumps({"code": f"{i}"}).encode()))
        for _ in range(1100):
            sock.recv_multipart()
        msg_id, reply = self.request(sock, "history_request",
                                     b'{"hist_access_type": "range", "output": true}')
        validate_message(reply, "history_reply", msg_id)
        entries = reply["content"]["history"]
        self.assertEqual(len(entries), 1000)
        self.assertEqual(entries[-1][2], ["1099", "1099"])
        self.assert_kernel_info_answered(sock)

    def test_interpreter_state_is_bounded(self):
        # A 1 MiB variable name, and 10,001 new variables, are refused as errors.
        reply = self.kc.execute_interactive("z" * (1 << 20) + " = 1", timeout=30)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "NameError")
        code = "\n".join(f"zbound{i} = {i}" for i in range(10001))
        reply = self.kc.execute_interactive(code, timeout=30)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "MemoryError")
        # Existing variables can still be assigned; the kernel serves on.
        reply = self.kc.execute_interactive("zbound0 = 5", timeout=30)
        self.assertEqual(reply["content"]["status"], "ok")
        self.assert_kernel_info_answered(self.dealer("shell"))

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
