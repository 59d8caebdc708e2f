#!/usr/bin/env bash
# cli_badinput.sh: a few hundred bad inputs over every command of sgxemu:
# missing, empty, truncated, oversized, FIFO, directory and device files in
# each input and output slot, keys of the wrong kind, repeated, unknown and
# misplaced options.  Each run must end by itself (no hang), exit 0, 1 or
# 2 (no crash), and on failure print a message that names what it was
# given (the file or the option).
#
#   bash cli_badinput.sh SGXEMU_BIN SAMPLE_ELF
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"

run 0 "keygen" "$SGXEMU" keygen -o key.pem
run 0 "sign" "$SGXEMU" sign --key key.pem -o sig.bin "$SAMPLE"
openssl pkey -in key.pem -pubout -out pub.pem 2>/dev/null
"$SGXEMU" sign --gendata -o data.bin "$SAMPLE" >/dev/null 2>&1
openssl dgst -sha256 -sign key.pem -out sig.raw data.bin
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 -out k2048.pem 2>/dev/null

if python3 - "$SGXEMU" "$SAMPLE" <<'EOF'
import os, subprocess, sys
sgxemu, sample = sys.argv[1], sys.argv[2]
elf = open(sample, "rb").read()
sig = open("sig.bin", "rb").read()

# The bad files.
os.mkdir("dir")
os.mkfifo("fifo")
open("empty", "wb").close()
for n in (3, 63, 64, 200, 4095, len(elf) // 2, len(elf) - 1):
    open("elf%d" % n, "wb").write(elf[:n])
for n in (1, 1807, 1809):
    open("sig%d" % n, "wb").write((sig * 2)[:n])
open("junk", "wb").write(b"\x7fELF" + b"\xff" * 200)
with open("huge", "wb") as f:          # sparse: 1 GiB + 1 byte
    f.truncate((1 << 30) + 1)
with open("sig2m", "wb") as f:
    f.truncate(2 << 20)
bad_files = ["missing", "empty", "dir", "fifo", "/dev/null", "junk", "huge", "sig2m", "sig1",
             "sig1807", "sig1809"] + ["elf%d" % n for n in (3, 63, 64, 200, 4095, len(elf) // 2,
                                                           len(elf) - 1)]
bad_keys = bad_files + ["ec.pem", "k2048.pem", "pub.pem", "sig.bin"]
bad_outputs = ["dir", "fifo", "/dev/null", "key.pem", "sig.bin", "nodir/out", "dir/", ""]

X = "{}"  # where the bad thing goes
slots = [
    ("measure image", ["measure", X]),
    ("measure --json image", ["measure", "--json", X]),
    ("sign image", ["sign", "--key", "key.pem", "-o", "out.bin", X]),
    ("sign --gendata image", ["sign", "--gendata", "-o", "out.bin", X]),
    ("sgxs image", ["sgxs", "-o", "out.sgxs", X]),
    ("show", ["show", X]),
    ("show --json", ["show", "--json", X]),
    ("check image", ["check", X, "sig.bin"]),
    ("check sigstruct", ["check", sample, X]),
    ("demo --enclave", ["demo", "--enclave", X]),
    ("stat --machine", ["stat", "--machine", X]),
    ("stat --machine --watch", ["stat", "--machine", X, "--watch", "1"]),
    ("sign --signature", ["sign", "--signature", X, "--public-key", "pub.pem", "-o", "out.bin", sample]),
]
key_slots = [
    ("sign --key", ["sign", "--key", X, "-o", "out.bin", sample]),
    ("sign --public-key", ["sign", "--signature", "sig.raw", "--public-key", X, "-o", "out.bin", sample]),
]
out_slots = [
    ("sign -o", ["sign", "--key", "key.pem", "-o", X, sample]),
    ("sign --force -o", ["sign", "--force", "--key", "key.pem", "-o", X, sample]),
    ("sgxs -o", ["sgxs", "-o", X, sample]),
    ("keygen -o", ["keygen", "-o", X]),
    ("demo --export-key", ["demo", "--export-key", X]),
    ("sign --gendata -o", ["sign", "--gendata", "-o", X, sample]),
]
cases = []
for name, argv in slots:
    for f in bad_files:
        cases.append(("%s %s" % (name, f), [a if a != X else f for a in argv], f))
for name, argv in key_slots:
    for f in bad_keys:
        cases.append(("%s %s" % (name, f), [a if a != X else f for a in argv], f))
for name, argv in out_slots:
    for f in bad_outputs:
        cases.append(("%s '%s'" % (name, f), [a if a != X else f for a in argv], f or "output"))
commands = {
    "keygen": ["-o", "k.pem"], "measure": [sample], "sign": ["--key", "key.pem", "-o", "o.bin", sample],
    "show": ["sig.bin"], "check": [sample, "sig.bin"], "sgxs": ["-o", "o.sgxs", sample],
    "demo": [], "stat": [], "bench build": ["--size-mb", "1"], "bench epc": ["--quick"],
    "bench ecall": ["--iterations", "10"], "bench run": ["--quick"], "machine": ["--socket", "m.sock"],
}
for cmd, args in commands.items():
    c = cmd.split()
    cases.append((cmd + " --bogus", c + ["--bogus"] + args, "--bogus"))
    cases.append((cmd + " -Z", c + ["-Z"] + args, "-Z"))
    cases.append((cmd + " --json=yes", c + ["--json=yes"] + args, "--json"))
    cases.append((cmd + " --help=x", c + ["--help=x"], "--help"))
    cases.append((cmd + " extra argument", c + args + ["extra1", "extra2"], "extra"))
for opt, vals in [("--date", ["20260101", "20260102"]), ("--isvsvn", ["1", "2"]),
                  ("--key", ["key.pem", "key.pem"]), ("--attributes", ["0x4", "0x4"]),
                  ("--heap", ["1", "1"]), ("--max-memory", ["1G", "2G"])]:
    cases.append(("sign %s twice" % opt, ["sign", "-o", "o2.bin", opt, vals[0], opt, vals[1],
                                        "--key", "key.pem", sample], opt))
for opt in ["--date", "--isvsvn", "--isvprodid", "--attributes", "--xfrm", "--miscselect",
            "--vendor", "--swdefined", "--isvfamilyid", "--mrenclave", "--heap",
            "--ssa-frame-size", "--max-memory"]:
    for v in ["", "-1", "x", "99999999999999999999999", "0x", " 1"]:
        cases.append(("sign %s '%s'" % (opt, v), ["sign", "--key", "key.pem", "-o", "o3.bin",
                                                  opt, v, sample], opt))
    cases.append(("sign %s (no value)" % opt, ["sign", "--key", "key.pem", "-o", "o3.bin", sample, opt], opt))
for cmd in ["check --lc", "check --epc-mb", "stat --epc-mb", "stat --enclaves", "stat --watch", "bench epc --threads",
            "bench build --size-mb", "demo --heap", "bench ecall --iterations", "machine --epc",
            "machine --sections"]:
    c = cmd.split()
    for v in ["0", "abc", "-5", "99999999999"]:
        extra = [sample, "sig.bin"] if c[0] == "check" else []
        cases.append(("%s %s" % (cmd, v), c + [v] + extra, c[-1]))

bad = 0
for name, argv, named in cases:
    try:
        p = subprocess.run([sgxemu] + argv, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        print("FAIL %s: no answer within 60 s" % name)
        bad += 1
        continue
    err = p.stderr.decode(errors="replace")
    if p.returncode not in (0, 1, 2):
        print("FAIL %s: exit %d\n    %s" % (name, p.returncode, err[:300]))
        bad += 1
    elif p.returncode and (not err.startswith("sgxemu") or named.rstrip("/") not in err):
        print("FAIL %s: exit %d; the message does not name '%s':\n    %s" % (name, p.returncode, named, err[:300]))
        bad += 1
    for f in ("out.bin", "out.sgxs", "o2.bin", "o3.bin", "nodir"):
        if os.path.exists(f):
            os.unlink(f)
for f, want in (("key.pem", None), ("sig.bin", sig)):
    if want is not None and open(f, "rb").read() != want:
        print("FAIL %s was changed" % f)
        bad += 1
if not os.path.exists("fifo") or not os.path.isdir("dir"):
    print("FAIL the FIFO or the directory was replaced")
    bad += 1
print("%d bad-input cases, %d failed" % (len(cases), bad))
sys.exit(1 if bad else 0)
EOF
then
	ok "every bad input gets exit 0, 1 or 2 and a message naming it"
else
	bad "some bad inputs crashed, hung or went unnamed"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
