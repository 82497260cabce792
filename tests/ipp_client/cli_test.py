"""zsession-ipp against a cluster started by cluster.py (ZSESSION_IPP_PROFILE).

    cluster.py --engines 2 -- /usr/bin/python3 cli_test.py PATH/TO/zsession-ipp
"""
import os
import subprocess
import sys
import tempfile

exe = sys.argv[1]
profile = os.environ["ZSESSION_IPP_PROFILE"]


def ipp(*args, expect=0):
    r = subprocess.run([exe, "--profile", profile, "--timeout", "30", *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == expect, (args, r.returncode, r.stdout, r.stderr)
    return r


engines = ipp("engines").stdout.splitlines()
assert len(engines) == 2, engines
ids = [line.split("\t")[0] for line in engines]
assert ids == ["0", "1"], ids

out = ipp("exec", "print('hi'); 1 + 1").stdout
assert "[engine 0] hi" in out and "[engine 1] hi" in out, out
assert "[engine 0] Out: 2" in out, out

out = ipp("exec", "--targets", "1", "import sys; print('e', file=sys.stderr)")
assert out.stderr.strip() == "[engine 1] e", out.stderr

out = ipp("exec", "--balanced", "print('lb')").stdout
assert out.startswith("[engine ") and out.endswith("lb\n"), out

out = ipp("exec", "--broadcast", "print('bc')").stdout
assert out.count("bc\n") == 2, out

err = ipp("exec", "--targets", "0", "1/0", expect=1).stderr
assert "ZeroDivisionError" in err, err

# Progress for long runs, on stderr.
slow = ipp("--progress", "exec", "import time; time.sleep(2.5); print('slow')")
assert "0/2 done" in slow.stderr, slow.stderr
assert slow.stdout.count("slow\n") == 2, slow.stdout

with tempfile.NamedTemporaryFile("w", suffix=".py") as f:
    f.write("print('from file')\n")
    f.flush()
    assert "[engine 0] from file" in ipp("run", "--targets", "0", f.name).stdout

# The hub's queue status: both engines, each having completed requests.
lines = ipp("queue").stdout.splitlines()
assert lines[0] == "engine\tqueue\ttasks\tcompleted", lines
rows = [line.split("\t") for line in lines[1:-1]]
assert [r[0] for r in rows] == ["0", "1"], lines
assert all(int(r[3]) >= 1 for r in rows), lines
assert lines[-1] == "unassigned\t0", lines
assert len(ipp("queue", "--targets", "1").stdout.splitlines()) == 3
# An unknown engine: the hub's error, exit status 1.
assert "IndexError" in ipp("queue", "--targets", "7", expect=1).stderr
# results needs the hub's records: under --nodb the hub answers an error (exit status 1).
err = ipp("results", "no-such-id", expect=1).stderr
assert "the hub answered" in err, err

# A wrong key: no reply from the hub, a clear message, exit status 2.
import json
with open(os.path.join(profile, "security", "ipcontroller-client.json")) as f:
    info = json.load(f)
info["key"] = "wrong"
with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
    json.dump(info, f)
    f.flush()
    r = subprocess.run([exe, "--file", f.name, "engines"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "wrong key" in r.stderr, (r.returncode, r.stderr)

print("cli_test: ok")
