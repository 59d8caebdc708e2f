#!/usr/bin/env python3
"""oracle_batch.py: runs the independent oracle over many builds in one process,
for tests/test_identity.c (starting Python once per build would cost more than
the builds).

  oracle_batch.py ORACLE KEY.json DIR...

Each DIR holds layout.json (the oracle's LAYOUT.json, see sgxref.py) and the
blob it names.  Writes into each DIR: mrenclave.txt (hex and a newline) and
stream.sgxs (the oracle's SGXS stream of the build); and, where DIR holds a
file named sign.request, sig.bin (the SIGSTRUCT the oracle signs with
KEY.json; the oracle's RSA takes about 0.1 s a signature, so a caller asks
for a few).
"""
import importlib.util
import json
import os
import sys


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    spec = importlib.util.spec_from_file_location("sgxref", argv[1])
    oracle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracle)
    with open(argv[2]) as f:
        key = json.load(f)
    for d in argv[3:]:
        with open(os.path.join(d, "layout.json")) as f:
            layout = json.load(f)
        blob = b""
        if layout.get("blob"):
            with open(os.path.join(d, layout["blob"]), "rb") as f:
                blob = f.read()
        with open(os.path.join(d, "mrenclave.txt"), "w") as f:
            f.write(oracle.mrenclave(layout, blob).hex() + "\n")
        if os.path.exists(os.path.join(d, "sign.request")):
            with open(os.path.join(d, "sig.bin"), "wb") as f:
                f.write(oracle.sign(layout, key, blob))
        with open(os.path.join(d, "stream.sgxs"), "wb") as f:
            f.write(oracle.sgxs(layout, blob))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
