"""A short soak of the zcalc kernel: thousands of execute_requests (each answered, each kept in
the bounded history) with the kernel's RSS sampled; it must stay flat.

    kernel_rss_test.py KERNEL_EXECUTABLE [EXECUTES]
"""
import json
import sys
import time
import unittest

import kernel_env

if __name__ == "__main__":
    kernel_env.setup(sys.argv[1])

import zmq  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

EXECUTES = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
SAMPLES = 10
PAD = "x" * 2048
WINDOW = 200  # requests in flight: the kernel is never idle, the test never waits on one


class KernelRss(unittest.TestCase):
    def setUp(self):
        self.km = KernelManager(kernel_name="zcalc")
        self.km.start_kernel()
        self.addCleanup(self.km.shutdown_kernel, now=True)
        kc = self.km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=30)
        kc.stop_channels()  # the soak drives shell itself; nobody subscribes to iopub
        self.ctx = zmq.Context()
        self.addCleanup(self.ctx.term)
        info = self.km.get_connection_info()
        self.shell = self.ctx.socket(zmq.DEALER)
        self.shell.linger = 0
        self.shell.rcvtimeo = 15000
        self.shell.connect(f"tcp://{info['ip']}:{info['shell_port']}")
        self.addCleanup(self.shell.close)

    def rss(self):
        with open(f"/proc/{self.km.provisioner.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def test_rss_is_flat_over_thousands_of_executes(self):
        session = self.km.session
        sent = received = 0
        samples = []
        start = time.monotonic()
        while received < EXECUTES:
            while sent < EXECUTES and sent - received < WINDOW:
                # Distinct code each time (a variable, a result, a history entry), with a
                # 2 KiB comment: kept whole in history, 5,000 of them would add 10 MiB.
                code = f"v{sent % 1000} = {sent} * 2\nv{sent % 1000} + 1 # {PAD}"
                session.send(self.shell, "execute_request",
                             {"code": code, "silent": False, "store_history": True})
                sent += 1
            _, rest = session.feed_identities(self.shell.recv_multipart())
            reply = session.deserialize(rest)
            self.assertEqual(reply["content"]["status"], "ok", reply["content"])
            received += 1
            if received % (EXECUTES // SAMPLES) == 0:
                samples.append(self.rss())
        seconds = time.monotonic() - start
        mib = [round(s / 2**20, 1) for s in samples]
        print(f"{EXECUTES} executes in {seconds:.1f} s; kernel RSS (MiB) every "
              f"{EXECUTES // SAMPLES}: {mib}", file=sys.stderr)
        # The first samples include the history filling up to its 1 MiB bound and 1000
        # variables being made; after that nothing may grow. Kept history would add 1 MiB per
        # sample (5 MiB over the settled half); the allocator's arenas move by a MiB or two
        # either way between samples (seen: 16.1, 17.5, 16.9 MiB), so the settled half's
        # last two samples, the lesser, are compared with its first.
        settled = samples[SAMPLES // 2 - 1:]
        grown = min(settled[-2:]) - settled[0]
        self.assertLess(grown, 1 << 20, f"RSS grew: {mib}")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
