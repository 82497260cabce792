#!/usr/bin/python3
"""Installs the zcalc kernel spec, so Jupyter clients can start the kernel.

    install_kernelspec.py KERNEL_EXECUTABLE [--user | --dest DATA_DIR] [--name zcalc]

Writes DATA_DIR/kernels/NAME/kernel.json (DATA_DIR defaults to the user's Jupyter data
directory, e.g. ~/.local/share/jupyter) with the executable's absolute path. With --dest, add
DATA_DIR to JUPYTER_PATH so clients find it.
"""
import argparse
import json
import os
import sys


def kernel_spec(executable):
    return {
        "argv": [os.path.abspath(executable), "{connection_file}"],
        "display_name": "zcalc (zsession)",
        "language": "calc",
        # The kernel takes interrupts as interrupt_request messages on control, not SIGINT.
        "interrupt_mode": "message",
        "metadata": {"debugger": False},
    }


def install(executable, data_dir, name="zcalc"):
    """Writes the spec; returns the kernel directory."""
    kernel_dir = os.path.join(data_dir, "kernels", name)
    os.makedirs(kernel_dir, exist_ok=True)
    with open(os.path.join(kernel_dir, "kernel.json"), "w") as f:
        json.dump(kernel_spec(executable), f, indent=2)
    return kernel_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("executable")
    parser.add_argument("--dest", help="Jupyter data directory (default: the user's)")
    parser.add_argument("--user", action="store_true", help="install for this user (default)")
    parser.add_argument("--name", default="zcalc")
    args = parser.parse_args()
    if not os.access(args.executable, os.X_OK):
        sys.exit(f"not an executable: {args.executable}")
    if args.dest:
        data_dir = args.dest
    else:
        from jupyter_core.paths import jupyter_data_dir

        data_dir = jupyter_data_dir()
    print(install(args.executable, data_dir, args.name))


if __name__ == "__main__":
    main()
