"""Shared by the kernel tests: a private Jupyter environment with the zcalc spec installed.

setup(kernel_executable) creates temporary Jupyter data/runtime directories, installs the
kernel spec there with examples/kernel/install_kernelspec.py, and points JUPYTER_PATH (and the
runtime directory for connection files) at them, so nothing outside the temp dir is touched.
"""
import atexit
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "kernel"))

import install_kernelspec  # noqa: E402


def setup(kernel_executable):
    root = tempfile.mkdtemp(prefix="zcalc-test-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    install_kernelspec.install(kernel_executable, os.path.join(root, "data"))
    os.environ["JUPYTER_PATH"] = os.path.join(root, "data")
    os.environ["JUPYTER_DATA_DIR"] = os.path.join(root, "data")
    os.environ["JUPYTER_RUNTIME_DIR"] = os.path.join(root, "runtime")
    os.environ["JUPYTER_CONFIG_DIR"] = os.path.join(root, "config")
    return root
