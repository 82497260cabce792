"""jupyter_kernel_test against the zcalc example kernel, plus the protocol features the suite
does not cover (execution counts, silent runs, comm_info, interrupt and kernel_info on
control, shutdown).

    kernel_test.py KERNEL_EXECUTABLE
"""
import sys
import time
import unittest

import kernel_env

if __name__ == "__main__":
    kernel_env.setup(sys.argv[1])

import jupyter_kernel_test as jkt  # noqa: E402
from jupyter_client.manager import start_new_kernel  # noqa: E402
from jupyter_client.utils import run_sync  # noqa: E402
from jupyter_kernel_test.msgspec_v5 import validate_message  # noqa: E402

TIMEOUT = 15


class ZcalcKernelTests(jkt.KernelTests):
    # Every attribute jupyter_kernel_test 0.4.5 has is set: all of its tests apply.
    kernel_name = "zcalc"
    language_name = "calc"
    file_extension = ".calc"
    code_hello_world = 'print("hello, world")'
    code_stderr = 'eprint("something went to stderr")'
    completion_samples = [
        {"text": "sq", "matches": {"sqrt"}},
        {"text": "pri", "matches": {"print"}},
        {"text": "m", "matches": {"max", "min"}},
    ]
    complete_code_samples = ["1 + 1", "x = 2", 'print("hi")', "y = 3; y * 2", "max(1,\n 2)"]
    incomplete_code_samples = ["(1 +", "x =", "max(1,", "2 *"]
    invalid_code_samples = ["1 +)", "@", "1 2", '"open', "x = = 2"]
    code_page_something = "help()"
    code_generate_error = "nope + 1"
    code_execute_result = [
        {"code": "6*7", "result": "42"},
        {"code": "y = 2\ny ^ 10", "result": "1024"},
        {"code": "max(3, 8) - 1", "result": "7"},
    ]
    code_display_data = [
        {"code": "display(6*7)", "mime": "text/html"},
        {"code": "display(1)", "mime": "text/plain"},
    ]
    code_history_pattern = "6?7"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "sqrt"
    code_clear_output = "clear()"

    # -- beyond jupyter_kernel_test ---------------------------------------------------------

    def test_execution_counts_and_results(self):
        self.flush_channels()
        reply1, out1 = self.execute_helper("1 + 1")
        reply2, out2 = self.execute_helper("z = 5\nz * 3")
        n1, n2 = reply1["content"]["execution_count"], reply2["content"]["execution_count"]
        self.assertEqual(n2, n1 + 1)
        result = [m for m in out2 if m["msg_type"] == "execute_result"]
        self.assertEqual(len(result), 1)
        self.assertEqual(result[0]["content"]["execution_count"], n2)
        self.assertEqual(result[0]["content"]["data"]["text/plain"], "15")

    def test_silent_execution_publishes_nothing_and_keeps_the_count(self):
        self.flush_channels()
        before, _ = self.execute_helper("1")
        reply, outputs = self.execute_helper('print("quiet")', silent=True)
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual(outputs, [])
        after, _ = self.execute_helper("1")
        self.assertEqual(after["content"]["execution_count"], before["content"]["execution_count"] + 1)

    def test_error_reply_has_traceback(self):
        self.flush_channels()
        reply, outputs = self.execute_helper("1 / 0")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "ZeroDivisionError")
        self.assertIn("1 / 0", "\n".join(reply["content"]["traceback"]))
        self.assertEqual(outputs[0]["content"]["traceback"], reply["content"]["traceback"])

    def test_comm_info(self):
        self.flush_channels()
        msg_id = self.kc.comm_info()
        reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        validate_message(reply, "comm_info_reply", msg_id)
        self.assertEqual(reply["content"]["comms"], {})

    def control_request(self, msg_type):
        msg = self.kc.session.msg(msg_type, {})
        self.kc.control_channel.send(msg)
        reply = run_sync(self.kc.control_channel.get_msg)(timeout=TIMEOUT)
        validate_message(reply, msg_type.replace("request", "reply"), msg["header"]["msg_id"])
        return reply

    def test_interrupt_on_control(self):
        self.assertEqual(self.control_request("interrupt_request")["content"]["status"], "ok")
        self.km.interrupt_kernel()  # interrupt_mode "message": also via the manager
        reply, _ = self.execute_helper("2 + 2")
        self.assertEqual(reply["content"]["status"], "ok")

    def test_kernel_info_on_control(self):
        reply = self.control_request("kernel_info_request")
        self.assertEqual(reply["content"]["implementation"], "zcalc")

    def test_busy_idle_around_kernel_info(self):
        self.flush_channels()
        msg_id = self.kc.kernel_info()
        self.kc.get_shell_msg(timeout=TIMEOUT)
        states = []
        while len(states) < 2:
            msg = self.kc.get_iopub_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status":
                states.append(msg["content"]["execution_state"])
        self.assertEqual(states, ["busy", "idle"])


class ShutdownTest(unittest.TestCase):
    def test_shutdown_request_ends_the_process(self):
        km, kc = start_new_kernel(kernel_name="zcalc")
        try:
            msg = kc.session.msg("shutdown_request", {"restart": False})
            kc.control_channel.send(msg)
            reply = run_sync(kc.control_channel.get_msg)(timeout=TIMEOUT)
            validate_message(reply, "shutdown_reply", msg["header"]["msg_id"])
            process = km.provisioner.process
            deadline = time.monotonic() + TIMEOUT
            while process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(process.poll(), 0, "the kernel did not exit cleanly by itself")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
