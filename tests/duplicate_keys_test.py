"""Python side of the duplicate-key rule: python/zsession_placeholders.py's unpackers refuse
exactly the content frames of tests/vectors/duplicate_keys.txt marked 'duplicate' (the C++
side, tests/duplicate_keys_test.cpp, reads the same file), and resolve the others.

    duplicate_keys_test.py SOURCE_ROOT
"""
import os
import sys

ROOT = sys.argv[1]
sys.path.insert(0, os.path.join(ROOT, "python"))
import zsession_placeholders as zp  # noqa: E402


def main():
    failures = checked = 0
    for line in open(os.path.join(ROOT, "tests", "vectors", "duplicate_keys.txt")):
        if line.startswith("#") or not line.strip():
            continue
        packer, expect, hexdata = line.split("#")[0].split()
        data = bytes.fromhex(hexdata)
        unpack = zp.unpack_json if packer == "json" else zp.unpack_msgpack
        try:
            zp.resolve(unpack(data), [b"abc"])
            got = "ok"
        except zp.DuplicateKeyError:
            got = "duplicate"
        checked += 1
        if got != expect:
            failures += 1
            print(f"FAIL: {line.strip()}: got {got}")
    print(f"{checked} frames checked, {failures} failures")
    return 1 if failures or checked < 10 else 0


if __name__ == "__main__":
    sys.exit(main())
