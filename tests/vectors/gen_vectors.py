#!/usr/bin/env python3
"""gen_vectors.py: identity vectors for tests/test_identity.c, computed by the
independent oracle ../shared/oracle/sgxref.py (imported as a module).

Run once and commit what it writes; the C test needs neither Python nor the
oracle to use them:

  python3 tests/vectors/gen_vectors.py [--oracle PATH] [--count N] [--seed S]

Writes, beside this script:
  oracle_key.json   the signing key as the oracle takes it (n, e, d); made by
                    the oracle's genkey() only if the file does not exist yet
  oracle_key.pem    the same key as a PKCS#1 RSA PEM for the C side
  identity.txt      one line per build (format below)
  sig_NNN.bin       the full SIGSTRUCT of builds 0 and 1, for field-level diffs
  vec_NNN.sgxs      the oracle's SGXS stream of builds 0 and 1

identity.txt, one build per line, numbers in hex without 0x:
  B seed size ssaframesize vendor date swdefined miscselect misc_mask
    attributes xfrm attributes_mask xfrm_mask isvprodid isvsvn
    mrenclave sha256(sigstruct) npages  off:flags:kind ...
kind 0: added, not measured; 1: measured, contents from the PRNG below;
2: measured, all zero.  Pages are listed in EADD order.

Page contents, so that no page bytes need committing: page j (0-based in
EADD order) of a build with seed S is 512 little-endian 64-bit words from
xorshift64* (the generator of tests/harness.h, harness_rand) started at
state = S + (j + 1) * 0x9E3779B97F4A7C15 mod 2^64 (1 if that is 0):
  x ^= x >> 12; x ^= x << 25; x ^= x >> 27; state = x;
  word = x * 0x2545F4914F6CDD1D mod 2^64.
"""
import argparse
import hashlib
import importlib.util
import json
import os
import random
import struct
import sys

MASK = (1 << 64) - 1
PAGE = 4096
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ORACLE = os.path.join(HERE, "..", "..", "..", "shared", "oracle", "sgxref.py")

SECINFO_TCS = 1 << 8
SECINFO_REG = 2 << 8
REG_PERMS = (0, 1, 3, 4, 5, 7)  # none, R, RW, X, RX, RWX: no W without R


def page_bytes(seed, index):
    state = (seed + (index + 1) * 0x9E3779B97F4A7C15) & MASK
    if state == 0:
        state = 1
    out = bytearray()
    for _ in range(PAGE // 8):
        x = state
        x ^= x >> 12
        x ^= (x << 25) & MASK
        x ^= x >> 27
        state = x
        out += struct.pack("<Q", (x * 0x2545F4914F6CDD1D) & MASK)
    return bytes(out)


def load_oracle(path):
    spec = importlib.util.spec_from_file_location("sgxref", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --- the key as PEM (DER by hand: the standard library has no ASN.1) ----------

def _factor(n, e, d):
    """Recovers p and q from n, e, d (the method of NIST SP 800-56B, C.2)."""
    k = d * e - 1
    t = k
    while t % 2 == 0:
        t //= 2
    for g in range(2, 1000):
        x = pow(g, t, n)
        if x in (1, n - 1):
            continue
        while True:
            y = x * x % n
            if y == 1:
                p = __import__("math").gcd(x - 1, n)
                return p, n // p
            if y == n - 1:
                break
            x = y
    raise ValueError("could not factor the modulus")


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _der_int(v):
    b = v.to_bytes(v.bit_length() // 8 + 1, "big")  # leading 0 keeps it positive
    return b"\x02" + _der_len(len(b)) + b


def key_pem(key):
    import base64
    n, e, d = int(key["n"], 16), int(key["e"]), int(key["d"], 16)
    p, q = _factor(n, e, d)
    if p < q:
        p, q = q, p
    fields = [0, n, e, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p)]
    body = b"".join(_der_int(v) for v in fields)
    der = b"\x30" + _der_len(len(body)) + body
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----\n"


# --- random builds -------------------------------------------------------------

def bcd_date(rng):
    return int("%04d%02d%02d" % (rng.randint(1970, 2099), rng.randint(1, 12), rng.randint(1, 31)), 16)


def rand_word(rng, bits):
    return rng.choice([0, (1 << bits) - 1, rng.getrandbits(bits), rng.getrandbits(bits)])


def random_build(rng, index):
    size = 1 << rng.randint(13, 40)
    nr_slots = size // PAGE
    npages = rng.randint(1, min(nr_slots, 24))
    slots = rng.sample(range(nr_slots), npages)
    if rng.random() < 0.5:
        slots.sort()
    pages = []
    for slot in slots:
        if rng.random() < 0.2:
            # Any of R, W and X on a TCS: EADD clears them before it measures.
            flags = SECINFO_TCS | rng.randint(0, 7)
        else:
            flags = SECINFO_REG | rng.choice(REG_PERMS)
        kind = rng.choices((0, 1, 2), weights=(3, 6, 1))[0]
        pages.append((slot * PAGE, flags, kind))
    return {
        "seed": rng.getrandbits(64),
        "size": size,
        "ssaframesize": rng.choice([1, 1, 2, 3, 4, rng.randint(1, 0xFFFFFFFF)]),
        "vendor": rng.choice([0, 0x8086]),
        "date": bcd_date(rng),
        "swdefined": rand_word(rng, 32),
        "miscselect": rand_word(rng, 32),
        "misc_mask": rand_word(rng, 32),
        "attributes": rng.choice([0x4, 0x6, rand_word(rng, 64)]),
        "xfrm": rng.choice([0x3, 0x7, 0xE7, rand_word(rng, 64)]),
        "attributes_mask": rand_word(rng, 64),
        "xfrm_mask": rand_word(rng, 64),
        "isvprodid": rng.getrandbits(16),
        "isvsvn": rng.getrandbits(16),
        "pages": pages,
    }


def fixed_builds():
    """Two small builds whose SIGSTRUCT and SGXS stream are committed whole."""
    common = {"vendor": 0, "date": 0x20261125, "swdefined": 0, "miscselect": 0,
              "misc_mask": 0xFFFFFFFF, "attributes": 0x4, "xfrm": 0x3,
              "attributes_mask": 0xFFFFFFFFFFFFFFFD, "xfrm_mask": 0xFFFFFFFFFFFFFFFF,
              "isvprodid": 1, "isvsvn": 2}
    b0 = dict(common, seed=0x5347584553454544, size=0x10000, ssaframesize=1, pages=[
        (0x0000, SECINFO_TCS | 7, 1),
        (0x1000, SECINFO_REG | 5, 1),
        (0x2000, SECINFO_REG | 1, 2),
        (0x3000, SECINFO_REG | 3, 0),
        (0x4000, SECINFO_REG | 3, 0)])
    b1 = dict(common, seed=0x0123456789ABCDEF, size=0x40000000, ssaframesize=2,
              vendor=0x8086, date=0x19991231, swdefined=0xDEADBEEF, miscselect=1,
              attributes=0x6, xfrm=0xE7, isvprodid=0xFFFF, isvsvn=0, pages=[
                  (0x3FFFF000, SECINFO_REG | 3, 0),
                  (0x5000, SECINFO_TCS, 1),
                  (0x0000, SECINFO_REG | 7, 1)])
    return [b0, b1]


def oracle_layout(build):
    """The oracle's LAYOUT.json form of a build, and its blob."""
    blob = bytearray()
    pages = []
    for j, (off, flags, kind) in enumerate(build["pages"]):
        page = {"offset": off, "flags": hex(flags), "measure": kind != 0}
        if kind:
            page["src"] = len(blob)
            blob += page_bytes(build["seed"], j) if kind == 1 else bytes(PAGE)
        pages.append(page)
    layout = {k: (hex(v) if isinstance(v, int) else v) for k, v in build.items()
              if k not in ("pages", "seed")}
    layout["pages"] = pages
    return layout, bytes(blob)


def vector_line(build, mrenclave, sig):
    head = [build[k] for k in ("seed", "size", "ssaframesize", "vendor", "date", "swdefined",
                               "miscselect", "misc_mask", "attributes", "xfrm",
                               "attributes_mask", "xfrm_mask", "isvprodid", "isvsvn")]
    words = ["B"] + ["%x" % v for v in head]
    words += [mrenclave.hex(), hashlib.sha256(sig).hexdigest(), "%x" % len(build["pages"])]
    words += ["%x:%x:%d" % p for p in build["pages"]]
    return " ".join(words)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--oracle", default=DEFAULT_ORACLE)
    ap.add_argument("--count", type=int, default=256, help="builds in all")
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--out", default=HERE)
    args = ap.parse_args(argv)
    oracle = load_oracle(args.oracle)

    key_path = os.path.join(args.out, "oracle_key.json")
    if not os.path.exists(key_path):
        with open(key_path, "w") as f:
            json.dump(oracle.genkey(), f)
            f.write("\n")
    with open(key_path) as f:
        key = json.load(f)
    with open(os.path.join(args.out, "oracle_key.pem"), "w") as f:
        f.write(key_pem(key))

    rng = random.Random(args.seed)
    builds = fixed_builds()
    while len(builds) < args.count:
        builds.append(random_build(rng, len(builds)))

    lines = ["# Identity vectors from sgxref.py; written by gen_vectors.py (see it for the",
             "# format and the page PRNG).  Do not edit by hand."]
    for i, build in enumerate(builds):
        layout, blob = oracle_layout(build)
        mrenclave = oracle.mrenclave(layout, blob)
        sig = oracle.sign(layout, key, blob)
        problems = oracle.check(sig)
        if problems:
            raise SystemExit("build %d: the oracle refuses its own SIGSTRUCT: %s" % (i, problems))
        if sig[960:992] != mrenclave:
            raise SystemExit("build %d: SIGSTRUCT does not carry MRENCLAVE" % i)
        lines.append(vector_line(build, mrenclave, sig))
        if i < 2:
            with open(os.path.join(args.out, "sig_%03d.bin" % i), "wb") as f:
                f.write(sig)
            stream = oracle.sgxs(layout, blob)
            if hashlib.sha256(stream).digest() != mrenclave:
                raise SystemExit("build %d: SHA-256 of the SGXS stream is not MRENCLAVE" % i)
            with open(os.path.join(args.out, "vec_%03d.sgxs" % i), "wb") as f:
                f.write(stream)
    with open(os.path.join(args.out, "identity.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%d builds written to %s" % (len(builds), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
