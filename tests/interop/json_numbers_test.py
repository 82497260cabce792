"""Differential test: every JSON number zsession's JSON packer decodes must equal what
Python's json.loads gives (same type class, same value, same IEEE bits for floats), or be
refused with a typed error for one of the documented reasons (docs/SECURITY.md):
  - an integer outside int64/uint64 (Python makes a big int; msgpack has none);
  - (before issue 13's own reader) RapidJSON's "Number too big": a written exponent above
    308 + fraction digits, or an integer part of more than 308 digits; the reader now gives
    Python's inf / 0.0 there, so no number is refused for that reason any more.
Texts Python refuses must be refused too. Doubles are also re-encoded by zsession and must
read back in Python to the same bits.

    json_numbers_test.py PEER [random-count]
"""
import json
import math
import random
import struct
import subprocess
import sys

INT64_MIN, UINT64_MAX = -(1 << 63), (1 << 64) - 1


def bits(x):
    return struct.pack("<d", x).hex()


def fixed_cases():
    z = "0." + "0" * 23
    out = [z, "-" + z, z + "e-300", "-" + z + "e-300", z + "e300", "0." + "0" * 400,
           "0", "-0", "-0.0", "0.0", "0e0", "-0e-0", "0E+0", "1", "-1", "1.0", "1e0",
           "9007199254740993", "9007199254740993.0", "-9007199254740993.5",
           str(UINT64_MAX), str(UINT64_MAX + 1), str(INT64_MIN), str(INT64_MIN - 1),
           str(1 << 63), "1" + "0" * 30, "-1" + "0" * 30, "1" + "0" * 400,
           "4.9e-324", "5e-324", "2e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
           "3e-324", "1e-400", "-1e-400", "2.2250738585072011e-308", "2.2250738585072014e-308",
           "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
           "-1.7976931348623159e308", "1e308", "1e309", "-1e309", "1e400", "0e400", "0.1e309",
           "123456789012345678901234567890e-20", "0." + "0" * 300 + "1e300",
           "1" + "0" * 300 + ".5e-300", "1e-2147483648", "1e-99999999999",
           "0.1", "0.2", "0.3", "1.5", "3.141592653589793238462643383279",
           "2.71828182845904523536028747135266249775724709369995",
           "1." + "9" * 800, "0." + "9" * 800 + "e-320",
           "NaN", "Infinity", "-Infinity", "Inf", "-Inf", "-NaN", "nan", "inf", "+1", ".5",
           "1.", "01", "-", "1e", "1e+", "0x10", "1_000", "--1", "1.5e3.2"]
    return out


def random_cases(rng, n):
    out = []
    for _ in range(n):
        kind = rng.randrange(6)
        sign = "-" if rng.random() < 0.5 else ""
        if kind == 0:  # integers around the 64-bit edges
            v = rng.choice([rng.randrange(1 << 64), rng.randrange(1 << 70), rng.randrange(1 << 53),
                            (1 << 63) + rng.randrange(-3, 3), (1 << 64) + rng.randrange(-3, 3)])
            out.append(sign + str(v))
        elif kind == 1:  # random doubles as Python prints them
            x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
            if math.isfinite(x):
                out.append(json.dumps(x))
        elif kind == 2:  # long mantissas
            int_part = str(rng.randrange(1, 10)) + "".join(rng.choice("0123456789") for _ in range(rng.randrange(0, 40)))
            frac = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 60)))
            out.append(f"{sign}{int_part}.{frac}e{rng.randrange(-340, 300)}")
        elif kind == 3:  # tiny, denormal and zero-led
            zeros = "0" * rng.randrange(0, 40)
            digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 25)))
            out.append(f"{sign}0.{zeros}{digits}e{rng.randrange(-330, -250)}")
        elif kind == 4:  # exponents at the edges
            out.append(f"{sign}{rng.randrange(1, 10)}.{rng.randrange(10**15)}e{rng.choice([-325, -324, -323, -308, -307, 307, 308, 309])}")
        else:  # halfway cases between doubles
            x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
            if math.isfinite(x) and x != 0:
                nxt = math.nextafter(x, math.inf)
                from decimal import Decimal
                mid = (Decimal(x) + Decimal(nxt)) / 2
                out.append(format(mid, "e") if rng.random() < 0.5 else format(mid.normalize(), "f")[:400])
    return out


def python_value(text):
    try:
        return ("ok", json.loads(text))
    except (ValueError, RecursionError) as e:
        return ("refused", str(e))


def check(text, got):
    kind, expected = python_value(text)
    word, _, rest = got.partition(" ")
    if kind == "refused":
        return None if word == "error" else f"Python refuses {text!r}, zsession gives {got!r}"
    if word == "error":
        if isinstance(expected, int) and not INT64_MIN <= expected <= UINT64_MAX:
            return None
        if "Number too big" in rest:
            return None
        return f"{text!r}: Python gives {expected!r}, zsession refuses: {rest}"
    if isinstance(expected, bool) or not isinstance(expected, (int, float)):
        return f"{text!r}: unexpected Python value {expected!r}"
    if isinstance(expected, int):
        want = ("uint" if expected >= 0 else "int", str(expected))
        have = (word, rest)
        return None if want == have else f"{text!r}: Python {expected}, zsession {got}"
    if word != "double":
        return f"{text!r}: Python float {expected!r}, zsession {got}"
    hexbits, _, reencoded = rest.partition(" ")
    if math.isnan(expected):
        ok = math.isnan(struct.unpack(">d", bytes.fromhex(hexbits))[0])
    else:
        ok = bytes.fromhex(hexbits) == struct.pack(">d", expected)
    if not ok:
        return f"{text!r}: Python {expected!r} ({bits(expected)}), zsession bits {hexbits}"
    back = json.loads(reencoded)["v"]
    if isinstance(back, str):  # nan/inf travel as the strings jupyter_client writes
        back = float(back)
    same = math.isnan(back) if math.isnan(expected) else struct.pack("<d", float(back)) == struct.pack("<d", expected)
    return None if same else f"{text!r}: re-encoded as {reencoded!r}, Python reads {back!r}"


def main():
    peer = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    rng = random.Random(20261128)
    cases = fixed_cases() + random_cases(rng, count)
    out = subprocess.run([peer], input="\n".join(cases) + "\n", capture_output=True, text=True,
                         timeout=240, check=True).stdout.splitlines()
    if len(out) != len(cases):
        print(f"FAIL: {len(cases)} inputs, {len(out)} answers")
        return 1
    failures, reasons = [], {}
    for text, got in zip(cases, out):
        why = check(text, got)
        if why:
            failures.append(why)
        if got.startswith("error "):
            kind, value = python_value(text)
            reason = ("Python refuses too" if kind == "refused" else
                      "integer beyond 64 bits" if isinstance(value, int) else
                      "exponent too large for RapidJSON's tokenizer")
            reasons[reason] = reasons.get(reason, 0) + 1
    for f in failures[:30]:
        print("FAIL:", f)
    print(f"{len(cases)} numbers, {len(failures)} differ from Python; refused: {reasons}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
