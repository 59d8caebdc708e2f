#!/usr/bin/env bash
# cli_errors.sh: the sgxemu command says what is wrong.
#
#   bash cli_errors.sh SGXEMU_BIN SAMPLE_ELF
#
# Options: an unknown option is one line naming it, a missing value and a
# repeated single-valued option are named, an option that does not apply
# to the input (--heap on an SGXS stream) is refused, options may precede
# the benchmark's name, `sgxemu --version` exists.  --json: an error is a
# JSON object on stdout.  An ELF refused names the header field.  A
# SIGSTRUCT refused names every field and rule it breaks, on stderr and as
# "problems" in --json, and the list agrees with the processor's verdict
# (and the oracle's, when present) over single-byte changes of every
# field.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"
ORACLE=${SGXREF:-$HERE/../../shared/oracle/sgxref.py}

lines() {
	local n
	n=$(wc -l <"$1")
	if [ "$n" -eq "$2" ]; then ok "$3"; else bad "$3: $1 has $n lines, want $2"; fi
}
# jfield KEY: KEY of the JSON object in ./out.
jfield() {
	python3 -c 'import json,sys; v=json.load(sys.stdin)[sys.argv[1]]; print(json.dumps(v) if isinstance(v, list) else v)' "$1" <out 2>/dev/null
}
json_error() {
	if python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["command"] == sys.argv[1] and d["exit_status"] == int(sys.argv[2]), d
assert sys.argv[3] in d["error"], d["error"]
' "$1" "$2" "$3" <out 2>/dev/null; then
		ok "$4: the error is a JSON object"
	else
		bad "$4: stdout is not the JSON error {command: $1, exit_status: $2, error: ...$3...}"
	fi
}

run 0 "keygen" "$SGXEMU" keygen -o key.pem
run 0 "sign" "$SGXEMU" sign --key key.pem --date 20260101 -o sig.bin "$SAMPLE"

# --- options ---------------------------------------------------------------
for cmd in keygen measure sign show check demo stat "bench build" "bench epc"; do
	# shellcheck disable=SC2086
	run 2 "$cmd --bogus" "$SGXEMU" $cmd --bogus
	has err "^sgxemu ${cmd%% *}: unknown option '--bogus'$" "$cmd: the unknown option is named"
	lines err 1 "$cmd: one line for an unknown option"
done
run 2 "sign -x" "$SGXEMU" sign -x
has err "^sgxemu sign: unknown option '-x'$" "an unknown short option is named"
run 2 "sign --bogus=3" "$SGXEMU" sign --bogus=3
has err "unknown option '--bogus'$" "the value is not part of the name"
run 2 "sign --key (no value)" "$SGXEMU" sign -o x.bin "$SAMPLE" --key
has err "^sgxemu sign: option '--key' needs a value$" "a missing value is named"
run 2 "measure --json=1" "$SGXEMU" measure --json=1 "$SAMPLE"
has err "option '--json' takes no value" "a value for a flag is named"
run 2 "sign --date twice" "$SGXEMU" sign --key key.pem --date 20260101 --date 20270101 -o x.bin "$SAMPLE"
has err "^sgxemu sign: option '--date' given twice \(once is allowed\)$" "a repeated --date is refused"
run 2 "sign -o twice" "$SGXEMU" sign --key key.pem -o x.bin --output y.bin "$SAMPLE"
has err "option '--output' given twice" "-o and --output are one option"
run 2 "sign -k twice" "$SGXEMU" sign -k key.pem -k key.pem -o x.bin "$SAMPLE"
run 2 "measure --heap twice" "$SGXEMU" measure --heap 1 --heap 2 "$SAMPLE"
run 2 "check --lc twice" "$SGXEMU" check --lc locked --lc writable "$SAMPLE" sig.bin
[ ! -e x.bin ] && ok "refused options write nothing" || bad "x.bin written"
run 0 "sign --json --json (a flag may repeat)" "$SGXEMU" sign --json --json --key key.pem -o z.bin "$SAMPLE"

run 0 "--version" "$SGXEMU" --version
has out "^sgxemu [0-9]+\.[0-9]+" "--version prints the version"
run 2 "an option before the command" "$SGXEMU" --bogus
has err "unknown option '--bogus'" "a top-level unknown option is named"

run 0 "bench --json build" "$SGXEMU" bench --json build --size-mb 1
if python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["sizes"][0]["pages"] == 256' <out; then
	ok "bench --json build prints the build benchmark's JSON"
else
	bad "bench --json build output"
fi
run 0 "bench --size-mb 1 --json build --size-mb 2" "$SGXEMU" bench --size-mb 1 --json build --size-mb 2
if python3 -c 'import json,sys; d=json.load(sys.stdin); assert [s["pages"] for s in d["sizes"]] == [256, 512]' <out; then
	ok "options on both sides of the name are taken; --size-mb repeats"
else
	bad "bench --size-mb 1 --json build --size-mb 2 output"
fi

python3 - <<'EOF'
import struct
def rec(tag, *fields):
    return (tag.ljust(8, b'\0') + b''.join(fields)).ljust(64, b'\0')
open("s.sgxs", "wb").write(rec(b'ECREATE', struct.pack('<IQ', 1, 1 << 13)) +
                           rec(b'EADD', struct.pack('<QQ', 0, 0x201)))
EOF
run 0 "measure of an SGXS stream" "$SGXEMU" measure s.sgxs
run 2 "measure --heap of an SGXS stream" "$SGXEMU" measure --heap 2 s.sgxs
has err "--heap applies to ELF images; s.sgxs is an SGXS stream" "--heap on SGXS is refused"
run 2 "sign --ssa-frame-size of an SGXS stream" "$SGXEMU" sign --ssa-frame-size 2 --key key.pem -o x.bin s.sgxs
has err "--ssa-frame-size applies to ELF images" "--ssa-frame-size on SGXS is refused"
run 2 "check --heap of an SGXS stream" "$SGXEMU" check --heap 1 s.sgxs sig.bin

# --- --json errors -----------------------------------------------------------
run 2 "sign --json --bogus" "$SGXEMU" sign --json --bogus
json_error sign 2 "unknown option '--bogus'" "sign --json --bogus"
run 2 "measure --json of a missing file" "$SGXEMU" measure --json missing.elf
json_error measure 2 "No such file" "measure --json missing.elf"
head -c 1000 sig.bin >short.bin
run 2 "show --json of a truncated SIGSTRUCT" "$SGXEMU" show --json short.bin
json_error show 2 "not a SIGSTRUCT: 1000 bytes" "show --json short.bin"
run 2 "check --json without SIGSTRUCT" "$SGXEMU" check --json "$SAMPLE"
json_error check 2 "want IMAGE and SIGSTRUCT" "check --json IMAGE"
run 2 "sign --json over an existing file" "$SGXEMU" sign --json --key key.pem -o sig.bin "$SAMPLE"
json_error sign 2 "already exists" "sign --json -o existing"
run 2 "keygen --json without -o" "$SGXEMU" keygen --json
json_error keygen 2 "no output file" "keygen --json"
run 2 "demo --json --heap abc" "$SGXEMU" demo --json --heap abc
json_error demo 2 "--heap" "demo --json --heap abc"
run 2 "bench --json build --size-mb 3" "$SGXEMU" bench --json build --size-mb 3
json_error bench 2 "--size-mb" "bench --json build --size-mb 3"

# --- ELF refusals name the field -------------------------------------------
elfmod() { # elfmod OUT OFFSET BYTE: the sample with one byte set
	python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[int(sys.argv[3])] = int(sys.argv[4]); open(sys.argv[2], "wb").write(b)' \
		"$SAMPLE" "$1" "$2" "$3"
}
elfmod v.elf 6 0
run 2 "measure of an ELF with EI_VERSION 0" "$SGXEMU" measure v.elf
has err "e_ident\[EI_VERSION\] is 0, not EV_CURRENT" "EI_VERSION is named"
elfmod c.elf 4 1
run 2 "measure of an ELFCLASS32 image" "$SGXEMU" measure c.elf
has err "e_ident\[EI_CLASS\] is 1" "EI_CLASS is named"
elfmod m.elf 18 3
run 2 "measure of an i386 image" "$SGXEMU" measure m.elf
has err "e_machine is 3" "e_machine is named"
elfmod t.elf 16 2
run 2 "measure of an ET_EXEC image" "$SGXEMU" measure t.elf
has err "e_type is 2, not ET_DYN" "e_type is named"

# --- SIGSTRUCT problems ------------------------------------------------------
setb() { # setb IN OUT OFFSET BYTE
	python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[int(sys.argv[3])] ^= int(sys.argv[4]); open(sys.argv[2], "wb").write(b)' \
		"$1" "$2" "$3" "$4"
}
run 0 "show of a sound SIGSTRUCT" "$SGXEMU" show --json sig.bin
same() { if [ "$1" = "$2" ]; then ok "$3"; else bad "$3: '$1' != '$2'"; fi; }
same "$(jfield problems)" "[]" "a sound SIGSTRUCT has no problems"
for t in "16 5|vendor (bytes 16..19) is 0x5; it must be 0 or 0x8086" \
	"0 1|header (bytes 0..15) is not the architectural" \
	"30 1|header2 (bytes 24..39) is not the architectural" \
	"512 1|exponent (bytes 512..515) is 2; it must be 3" \
	"50 7|reserved1 (bytes 44..127) must be zero: byte 50 is 0x07" \
	"1000 1|reserved3 (bytes 992..1007) must be zero: byte 1000 is 0x01" \
	"1030 1|reserved4 (bytes 1028..1039) must be zero: byte 1030 is 0x01" \
	"1100 1|q1 (bytes 1040..1423) is not floor" \
	"1500 1|q2 (bytes 1424..1807) is not floor" \
	"600 1|signature (bytes 516..899): signature^3 mod modulus is not" \
	"1026 1|signature (bytes 516..899): signature^3 mod modulus is not"; do
	spec=${t%%|*}
	want=${t#*|}
	# shellcheck disable=SC2086
	setb sig.bin bad.bin $spec
	run 1 "show of a SIGSTRUCT with byte ${spec% *} changed" "$SGXEMU" show bad.bin
	has err "^sgxemu show: bad.bin: $(printf '%s' "$want" | sed 's/[][().^$*+?]/\\&/g')" "byte ${spec% *}: the field and rule are named on stderr"
	"$SGXEMU" show --json bad.bin >out 2>err
	if python3 -c 'import json,sys; d=json.load(sys.stdin); assert any(p.startswith(sys.argv[1]) for p in d["problems"]), d["problems"]' "$want" <out; then
		ok "byte ${spec% *}: the problem is in --json's problems"
	else
		bad "byte ${spec% *}: --json problems lack '$want'"
	fi
done
# A signature no less than the modulus: the modulus itself.
python3 -c 'b = bytearray(open("sig.bin", "rb").read()); b[516:900] = b[128:512]; open("big.bin", "wb").write(b)'
run 1 "show of a SIGSTRUCT whose signature is its modulus" "$SGXEMU" show big.bin
has err "signature \(bytes 516\.\.899\) is not less than the modulus" "a signature >= the modulus is named"
# Two rules broken outside the signed bytes, two problems, though the
# processor stops at the first.
setb sig.bin bad2.bin 16 5
setb sig.bin bad1.bin 1030 1
setb bad1.bin bad3.bin 1100 1
"$SGXEMU" show --json bad3.bin >out 2>err
same "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["problems"]))' <out)" 2 "every broken rule is listed"
same "$(jfield signature)" "SGX_INVALID_SIG_STRUCT" "the processor's verdict is the first"
# KSS fields are identity, not reserved: a change breaks only the signature.
setb sig.bin kss.bin 915 1
"$SGXEMU" show --json kss.bin >out 2>err
same "$(jfield signature)" "SGX_INVALID_SIGNATURE" "ISVFAMILYID is not reserved"
if python3 -c 'import json,sys; p=json.load(sys.stdin)["problems"]; assert len(p) == 1 and p[0].startswith("signature"), p' <out; then
	ok "an ISVFAMILYID change is a signature problem only"
else
	bad "ISVFAMILYID change problems: $(jfield problems)"
fi
run 1 "check --json with a bad vendor" "$SGXEMU" check --json "$SAMPLE" bad2.bin
if python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["einit"] == "SGX_INVALID_SIG_STRUCT" and d["problems"][0].startswith("vendor"), d' <out; then
	ok "check --json lists the SIGSTRUCT's problems"
else
	bad "check --json problems"
fi
has err "sgxemu check: bad2.bin: vendor" "check names the problem on stderr"

# Every byte range: problems are empty exactly when the processor accepts,
# and hold a structural one exactly when it answers SGX_INVALID_SIG_STRUCT;
# the oracle, when present, agrees on empty or not.  One Python process
# for the lot.
if python3 - "$SGXEMU" "$ORACLE" <<'EOF'
import importlib.util, json, os, subprocess, sys
sgxemu, oracle_path = sys.argv[1], sys.argv[2]
oracle = None
if os.path.exists(oracle_path):
    spec = importlib.util.spec_from_file_location("sgxref", oracle_path)
    oracle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracle)
sig = open("sig.bin", "rb").read()
structural = ("header", "header2", "vendor", "exponent", "reserved1", "reserved3", "reserved4")
offsets = [0, 4, 8, 15, 16, 17, 19, 20, 23, 24, 39, 40, 43, 44, 100, 127, 128, 300, 511, 512,
           513, 515, 516, 700, 899, 900, 904, 908, 911, 912, 927, 928, 960, 991, 992, 1007,
           1008, 1023, 1024, 1027, 1028, 1039, 1040, 1423, 1424, 1807]
bad = 0
for off in offsets:
    for x in (1, 128):
        m = bytearray(sig)
        m[off] ^= x
        open("m.bin", "wb").write(m)
        d = json.loads(subprocess.run([sgxemu, "show", "--json", "m.bin"], capture_output=True).stdout)
        p = d["problems"]
        st = any(s.split(" ")[0] in structural for s in p)
        if (not p) != d["verified"] or st != (d["signature"] == "SGX_INVALID_SIG_STRUCT"):
            print("    byte %d ^ %d: %s but %s" % (off, x, d["signature"], p))
            bad += 1
        if oracle and (not oracle.check(bytes(m))) != (not p):
            print("    byte %d ^ %d: oracle %s, sgxemu %s" % (off, x, oracle.check(bytes(m)), p))
            bad += 1
sys.exit(1 if bad else 0)
EOF
then
	ok "problems agree with the processor (and the oracle) over 92 changed SIGSTRUCTs"
else
	bad "problems and the processor (or the oracle) disagree"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
