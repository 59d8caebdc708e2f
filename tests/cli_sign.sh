#!/usr/bin/env bash
# cli_sign.sh: the sgxemu command's identity subcommands end to end.
#
#   bash cli_sign.sh SGXEMU_BIN SAMPLE_ELF
#
# keygen -> measure -> sign -> show -> check round trip, --json output that
# parses, the failures a user meets (a SIGSTRUCT of another image, a
# tampered or truncated SIGSTRUCT, a truncated image, keys of the wrong
# size or exponent, bad numbers) with their exit codes and messages, and
# MRENCLAVE/SIGSTRUCT cross-checked against the independent oracle
# (shared/oracle/sgxref.py, or $SGXREF) when it is present.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"
ORACLE=${SGXREF:-$HERE/../../shared/oracle/sgxref.py}

# json NAME: ./out is one JSON object; prints nothing.
json() {
	if python3 -c 'import json,sys; d=json.load(sys.stdin); assert isinstance(d, dict)' <out 2>/dev/null; then
		ok "$1: JSON parses"
	else
		bad "$1: output is not one JSON object"
	fi
}

# field KEY: the value of KEY in ./out's JSON object.
field() {
	python3 -c 'import json,sys; v=json.load(sys.stdin)[sys.argv[1]]; print(str(v).lower() if isinstance(v, bool) else v)' "$1" <out 2>/dev/null
}

# same A B NAME: two strings are equal.
same() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		bad "$3: '$1' != '$2'"
	fi
}

# --- usage ---------------------------------------------------------------
run 0 "top-level --help" "$SGXEMU" --help
has out "keygen" "--help lists the commands"
run 2 "no command" "$SGXEMU"
run 2 "unknown command" "$SGXEMU" frobnicate
has err "unknown command 'frobnicate'" "unknown command is named"
for cmd in keygen measure sign show check demo; do
	run 0 "$cmd --help" "$SGXEMU" "$cmd" --help
	has out "^       sgxemu $cmd( |$)" "$cmd --help shows usage"
done
run 0 "bench --help" "$SGXEMU" bench --help
run 2 "bench without a benchmark" "$SGXEMU" bench
run 2 "unknown option" "$SGXEMU" measure --frobnicate "$SAMPLE"
run 2 "measure without IMAGE" "$SGXEMU" measure
has err "no IMAGE" "missing IMAGE is named"

# --- keygen --------------------------------------------------------------
run 0 "keygen" "$SGXEMU" keygen -o key.pem
run 0 "keygen --json" "$SGXEMU" keygen --json -o key2.pem
json "keygen --json"
same "$(field bits)/$(field exponent)" "3072/3" "keygen makes RSA-3072, e = 3"
KEY2_MRSIGNER=$(field mrsigner)
run 2 "keygen refuses to overwrite" "$SGXEMU" keygen -o key.pem
has err "already exists" "overwrite refusal says why"

# --- measure -------------------------------------------------------------
run 0 "measure" "$SGXEMU" measure "$SAMPLE"
MR=$(cat out)
if [[ "$MR" =~ ^[0-9a-f]{64}$ ]]; then ok "measure prints 64 hex digits"; else bad "measure printed '$MR'"; fi
run 0 "measure --json" "$SGXEMU" measure --json "$SAMPLE"
json "measure --json"
same "$(field mrenclave)" "$MR" "measure --json agrees with plain output"
PAGES=$(field pages)
MEASURED=$(field measured_pages)
same "$MEASURED" "$PAGES" "without heap every page is measured"
run 0 "measure --heap 5 --json" "$SGXEMU" measure --heap 5 --json "$SAMPLE"
same "$(field pages)" "$((PAGES + 5))" "--heap adds pages"
same "$(field measured_pages)" "$MEASURED" "heap pages are not measured"
if [ "$(field mrenclave)" != "$MR" ]; then ok "heap changes MRENCLAVE"; else bad "heap did not change MRENCLAVE"; fi
run 2 "measure --heap abc" "$SGXEMU" measure --heap abc "$SAMPLE"
has err "--heap" "bad --heap is named"
if [ -w /dev/full ]; then
	"$SGXEMU" measure --json "$SAMPLE" >/dev/full 2>err
	rc=$?
	if [ "$rc" -eq 2 ]; then ok "measure into a full device (exit 2)"; else bad "measure into /dev/full: exit $rc, want 2"; fi
	has err "cannot write the output: No space left on device" "the write failure is named"
fi
run 2 "measure of a missing file" "$SGXEMU" measure "$tmp/nonexistent.elf"
has err "No such file" "missing file is named"

# --- sign ----------------------------------------------------------------
run 0 "sign" "$SGXEMU" sign --key key.pem -o sig.bin "$SAMPLE"
same "$(stat -c %s sig.bin)" "1808" "SIGSTRUCT is 1808 bytes"
run 0 "sign --json" "$SGXEMU" sign --json --key key.pem --isvprodid 7 --isvsvn 3 \
	--date 20250102 -o sig2.bin "$SAMPLE"
json "sign --json"
same "$(field mrenclave)" "$MR" "sign signs the measured MRENCLAVE"
same "$(field attributes)/$(field xfrm)" "0x4/0x3" "default attributes and xfrm"
same "$(field attributes_mask)/$(field xfrm_mask)" "0xffffffffffffffff/0x3" "default masks"
same "$(field date)" "0x20250102" "--date is BCD"
run 0 "sign --debug --json" "$SGXEMU" sign --json --debug --key key.pem -o sigdbg.bin "$SAMPLE"
same "$(field attributes)" "0x6" "--debug sets DEBUG"
run 2 "sign --isvsvn 70000" "$SGXEMU" sign --key key.pem --isvsvn 70000 -o x.bin "$SAMPLE"
run 2 "sign --vendor 5" "$SGXEMU" sign --key key.pem --vendor 5 -o x.bin "$SAMPLE"
run 2 "sign --date 20261340" "$SGXEMU" sign --key key.pem --date 20261340 -o x.bin "$SAMPLE"
run 2 "sign --date 20260231" "$SGXEMU" sign --key key.pem --date 20260231 -o x.bin "$SAMPLE"
has err "not a date" "a day February lacks is named"
run 2 "sign --date 00000101" "$SGXEMU" sign --key key.pem --date 00000101 -o x.bin "$SAMPLE"
run 0 "sign --date 20240229 --json" "$SGXEMU" sign --json --key key.pem --date 20240229 -o leap.bin "$SAMPLE"
same "$(field date)" "0x20240229" "a leap day is a date"
run 2 "sign --isvsvn with a leading tab" "$SGXEMU" sign --key key.pem --isvsvn $'\t5' -o x.bin "$SAMPLE"
run 2 "sign --isvsvn -1" "$SGXEMU" sign --key key.pem --isvsvn -1 -o x.bin "$SAMPLE"
run 2 "measure --heap with a leading newline" "$SGXEMU" measure --heap $'\n5' "$SAMPLE"
run 2 "sign --attributes with a reserved bit" "$SGXEMU" sign --key key.pem --attributes 0x8 -o x.bin "$SAMPLE"
has err "reserved" "reserved attribute bit is named"
run 2 "sign --xfrm 1" "$SGXEMU" sign --key key.pem --xfrm 1 -o x.bin "$SAMPLE"
run 2 "sign without --key" "$SGXEMU" sign -o x.bin "$SAMPLE"

# --- show ----------------------------------------------------------------
run 0 "show" "$SGXEMU" show sig.bin
has out "^signature: ok$" "show says signature: ok"
has out "mrenclave +$MR" "show prints MRENCLAVE"
run 0 "show --json" "$SGXEMU" show --json sig2.bin
json "show --json"
same "$(field verified)/$(field signature)" "true/ok" "show --json verifies"
same "$(field isvprodid)/$(field isvsvn)" "7/3" "show reads isvprodid and isvsvn"
run 0 "sign with key2" "$SGXEMU" sign --json --key key2.pem -o sigk2.bin "$SAMPLE"
same "$(field mrsigner)" "$KEY2_MRSIGNER" "sign's MRSIGNER matches keygen's"

# Flip one byte of the signed body (ISVSVN): the signature no longer holds.
cp sig.bin tampered.bin
printf '\x01' | dd of=tampered.bin bs=1 seek=1026 conv=notrunc status=none
run 1 "show of a tampered SIGSTRUCT" "$SGXEMU" show tampered.bin
has out "^signature: SGX_INVALID_SIGNATURE$" "tampering gives SGX_INVALID_SIGNATURE"
head -c 1000 sig.bin >short.bin
run 2 "show of a truncated SIGSTRUCT" "$SGXEMU" show short.bin
has err "not a SIGSTRUCT: 1000 bytes" "truncated SIGSTRUCT is named"
cat sig.bin sig.bin >long.bin
run 2 "show of an oversized file" "$SGXEMU" show long.bin

# --- check ---------------------------------------------------------------
run 0 "check" "$SGXEMU" check "$SAMPLE" sig.bin
has out "^EINIT: ok$" "check says EINIT: ok"
run 0 "check --json" "$SGXEMU" check --json "$SAMPLE" sig.bin
json "check --json"
same "$(field einit)/$(field leaked_epc_pages)" "ok/0" "check --json: EINIT ok, nothing leaked"
run 0 "check of a debug SIGSTRUCT" "$SGXEMU" check "$SAMPLE" sigdbg.bin

# Another image: the sample with one byte of its last segment changed.
python3 - "$SAMPLE" other.elf <<'EOF'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
phoff, = struct.unpack_from("<Q", b, 32)
phnum, = struct.unpack_from("<H", b, 56)
loads = [struct.unpack_from("<IIQQQQQQ", b, phoff + 56 * i) for i in range(phnum)]
loads = [p for p in loads if p[0] == 1 and p[6] > 0]
off = loads[-1][2]
b[off] ^= 0x5a
open(sys.argv[2], "wb").write(b)
EOF
run 0 "measure of the other image" "$SGXEMU" measure other.elf
if [ "$(cat out)" != "$MR" ]; then ok "the other image measures differently"; else bad "other image has the same MRENCLAVE"; fi
run 0 "sign the other image" "$SGXEMU" sign --key key.pem -o other.bin other.elf
run 1 "check with the other image's SIGSTRUCT" "$SGXEMU" check "$SAMPLE" other.bin
has out "^EINIT: SGX_INVALID_MEASUREMENT$" "wrong image gives SGX_INVALID_MEASUREMENT"
run 1 "check --json with the other image's SIGSTRUCT" "$SGXEMU" check --json "$SAMPLE" other.bin
json "check --json (failing)"
same "$(field einit)/$(field leaked_epc_pages)" "SGX_INVALID_MEASUREMENT/0" "failed EINIT leaks nothing"
run 1 "check with heap the signature did not cover" "$SGXEMU" check --heap 2 "$SAMPLE" sig.bin
has out "SGX_INVALID_MEASUREMENT" "unsigned heap changes the measurement"
run 1 "check of a tampered SIGSTRUCT" "$SGXEMU" check "$SAMPLE" tampered.bin
has out "^EINIT: SGX_INVALID_SIGNATURE$" "EINIT refuses a tampered SIGSTRUCT"
run 1 "check with launch control locked" "$SGXEMU" check --lc locked "$SAMPLE" sig.bin
has out "^EINIT: SGX_INVALID_EINITTOKEN$" "locked launch control needs a token"
run 2 "check --lc bogus" "$SGXEMU" check --lc bogus "$SAMPLE" sig.bin
run 2 "check --ssa-frame-size 0" "$SGXEMU" check --ssa-frame-size 0 "$SAMPLE" sig.bin
has err "ssa-frame-size: '0' is not in 1..1024" "check names the bad SSA frame size"
run 2 "check of /dev/null as SIGSTRUCT" "$SGXEMU" check "$SAMPLE" /dev/null
has err "/dev/null: not a regular file" "a device is named as such"
mkfifo fifo
run 2 "sign with a FIFO as key (refused, not waited on)" timeout 10 "$SGXEMU" sign --key fifo -o x.bin "$SAMPLE"
has err "fifo: not a regular file" "a FIFO is named as such"
run 2 "check of a truncated SIGSTRUCT" "$SGXEMU" check "$SAMPLE" short.bin
has err "not a SIGSTRUCT" "check names the truncated SIGSTRUCT"
run 0 "check --epc-mb 2" "$SGXEMU" check --epc-mb 2 "$SAMPLE" sig.bin

# --- bad images ----------------------------------------------------------
head -c 100 "$SAMPLE" >trunc1.elf
head -c 5000 "$SAMPLE" >trunc2.elf
for t in trunc1 trunc2; do
	run 2 "measure of $t.elf" "$SGXEMU" measure $t.elf
	has err "truncated|beyond the end of the file" "$t.elf: the truncation is named"
	run 2 "sign of $t.elf" "$SGXEMU" sign --key key.pem -o x.bin $t.elf
	run 2 "check of $t.elf" "$SGXEMU" check $t.elf sig.bin
done
# An SGXS stream whose ECREATE asks for 2^50 bytes: measurable, not placeable.
python3 - <<'EOF'
import struct
def rec(tag, *fields):
    return (tag.ljust(8, b'\0') + b''.join(fields)).ljust(64, b'\0')
open("huge.sgxs", "wb").write(rec(b'ECREATE', struct.pack('<IQ', 1, 1 << 50)) +
                              rec(b'EADD', struct.pack('<QQ', 0, 0x100)))
EOF
run 0 "measure of a 2^50-byte SGXS enclave" "$SGXEMU" measure huge.sgxs
run 2 "check of a 2^50-byte SGXS enclave" "$SGXEMU" check huge.sgxs sig.bin
has err "cannot be placed" "an unplaceable size is named"
# An ELF of 4 GiB in 24 bytes of segments: its EPC would be backed in full.
python3 - <<'EOF'
import struct
eh = bytearray(64)
eh[0:4] = b'\x7fELF'; eh[4] = 2; eh[5] = 1; eh[6] = 1
struct.pack_into('<HHIQQQIHHHHHH', eh, 16, 3, 62, 1, 0, 64, 0, 0, 64, 56, 2, 0, 0, 0)
ph = struct.pack('<IIQQQQQQ', 1, 4, 0, 0, 0, 0, 4096, 4096)
ph += struct.pack('<IIQQQQQQ', 1, 4, 0, 4096, 4096, 0, (1 << 32) - 4096, 4096)
open("big.elf", "wb").write(bytes(eh) + ph)
EOF
run 2 "check of a 4 GiB ELF enclave" "$SGXEMU" check big.elf sig.bin
has err "needs 1048577 EPC pages .* more than the 4096 MiB check builds in" "the EPC bound is named"
run 2 "check --epc-mb 4097" "$SGXEMU" check --epc-mb 4097 "$SAMPLE" sig.bin
printf 'not an enclave' >junk.bin
run 2 "measure of junk" "$SGXEMU" measure junk.bin
has err "not an ELF enclave or SGXS stream" "junk is named"

# --- wrong keys ----------------------------------------------------------
if openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 \
	-out k2048.pem 2>/dev/null; then
	run 2 "sign with a 2048-bit key" "$SGXEMU" sign --key k2048.pem -o x.bin "$SAMPLE"
	has err "3072" "the key size is named"
else
	bad "openssl could not make a 2048-bit key"
fi
if openssl genrsa -out k65537.pem 3072 2>/dev/null; then
	run 2 "sign with an e=65537 key" "$SGXEMU" sign --key k65537.pem -o x.bin "$SAMPLE"
	has err "exponent|e = 3|e=3" "the exponent is named"
else
	bad "openssl could not make an e=65537 key"
fi
printf 'garbage' >garbage.pem
run 2 "sign with a garbage key" "$SGXEMU" sign --key garbage.pem -o x.bin "$SAMPLE"
if [ -e x.bin ]; then bad "a refused signing left x.bin"; else ok "refused signing writes nothing"; fi

# --- demo ----------------------------------------------------------------
run 0 "demo" "$SGXEMU" demo
has out "^EINIT: ok$" "demo says EINIT: ok"
has out "^MRENCLAVE +[0-9a-f]{64}$" "demo prints MRENCLAVE"
run 0 "demo --json" "$SGXEMU" demo --json --heap 0
json "demo --json"
same "$(field einit)/$(field leaked_epc_pages)" "ok/0" "demo --json: EINIT ok, nothing leaked"
same "$(field mrenclave)" "$MR" "demo without heap measures what measure does"
DEMO_MRSIGNER=$(field mrsigner)
run 0 "demo --export-key" "$SGXEMU" demo --export-key demo.pem
run 0 "sign with the demo key" "$SGXEMU" sign --json --key demo.pem -o demo.bin "$SAMPLE"
same "$(field mrsigner)" "$DEMO_MRSIGNER" "exported demo key is the embedded one"
run 0 "check the demo-signed SIGSTRUCT" "$SGXEMU" check "$SAMPLE" demo.bin
run 2 "demo of a truncated image" "$SGXEMU" demo --json --enclave trunc2.elf
json "demo --json (failing)"
same "$(field failed_step)/$(field mrenclave)" "load/None" "failed demo names its step"

# --- bench (small) -------------------------------------------------------
run 0 "bench build --size-mb 1 --json" "$SGXEMU" bench build --json --size-mb 1
json "bench build --json"
if python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["pages_per_s"] > 0 and d["sha256_pages_per_s"] > 0 and abs(d["ratio"] - d["pages_per_s"] / d["sha256_pages_per_s"]) < 1e-6 * d["ratio"] and d["sizes"][0]["pages"] == 256' <out; then
	ok "bench build --json has the rates and ratio"
else
	bad "bench build --json fields"
fi
run 2 "bench build --size-mb 3" "$SGXEMU" bench build --size-mb 3
run 0 "bench epc --json" "$SGXEMU" bench epc --json --quick --threads 2 --iterations 1000
json "bench epc --json"
run 2 "bench epc --threads 0" "$SGXEMU" bench epc --threads 0
run 2 "bench frobnicate" "$SGXEMU" bench frobnicate

# --- JSON strings are escaped ---------------------------------------------
weird=$'we"ird\\na	me.elf'
cp "$SAMPLE" "$weird"
run 0 "measure --json of an oddly named file" "$SGXEMU" measure --json "$weird"
json "measure --json (odd name)"
same "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["image"] == sys.argv[1])' "$weird" <out)" "True" "the odd name survives JSON escaping"

# --- the oracle ----------------------------------------------------------
if [ -f "$ORACLE" ]; then
	# An independent reading of the image contract: layout JSON + blob.
	python3 - "$SAMPLE" 4 layout.json blob.bin <<'EOF'
import json, struct, sys
elf = open(sys.argv[1], "rb").read()
heap = int(sys.argv[2])
phoff, = struct.unpack_from("<Q", elf, 32)
phnum, = struct.unpack_from("<H", elf, 56)
phs = [struct.unpack_from("<IIQQQQQQ", elf, phoff + 56 * i) for i in range(phnum)]
loads = [p for p in phs if p[0] == 1]
pages, blob, end = [], bytearray(), 0
for i, (_, flags, off, vaddr, _, filesz, memsz, _) in enumerate(loads):
    data = elf[off:off + filesz]
    npages = (memsz + 4095) // 4096
    perm = (1 if flags & 4 else 0) | (2 if flags & 2 else 0) | (4 if flags & 1 else 0)
    secinfo = 0x100 if i == 0 else 0x200 | perm
    for p in range(npages):
        chunk = data[p * 4096:(p + 1) * 4096]
        pages.append({"offset": vaddr + p * 4096, "flags": hex(secinfo),
                      "measure": True, "src": len(blob)})
        blob += chunk + bytes(4096 - len(chunk))
    end = vaddr + npages * 4096
for h in range(heap):
    pages.append({"offset": end + h * 4096, "flags": "0x203", "measure": False})
end += heap * 4096
size = 8192
while size < end:
    size *= 2
layout = {"size": size, "ssaframesize": 1, "attributes": "0x4", "xfrm": "0x3",
          "attributes_mask": "0xffffffffffffffff", "xfrm_mask": "0x3",
          "misc_mask": 0xffffffff, "date": "0x20260101",
          "blob": "blob.bin", "pages": pages}
open(sys.argv[4], "wb").write(blob)
json.dump(layout, open(sys.argv[3], "w"))
EOF
	ORACLE_MR=$(python3 "$ORACLE" mrenclave layout.json)
	run 0 "measure --heap 4 for the oracle" "$SGXEMU" measure --heap 4 "$SAMPLE"
	same "$(cat out)" "$ORACLE_MR" "MRENCLAVE of the sample agrees with the oracle"
	python3 "$ORACLE" sgxs layout.json sample.sgxs
	run 0 "measure of the oracle's SGXS" "$SGXEMU" measure sample.sgxs
	same "$(cat out)" "$ORACLE_MR" "MRENCLAVE of the oracle's SGXS stream agrees"
	python3 "$ORACLE" genkey okey.json
	python3 "$ORACLE" sign layout.json okey.json oracle.bin
	run 0 "show of the oracle's SIGSTRUCT" "$SGXEMU" show oracle.bin
	has out "^signature: ok$" "the oracle's SIGSTRUCT verifies"
	run 0 "check with the oracle's SIGSTRUCT" "$SGXEMU" check --heap 4 "$SAMPLE" oracle.bin
	has out "^EINIT: ok$" "EINIT accepts the oracle's SIGSTRUCT"
	run 0 "check of the oracle's SGXS" "$SGXEMU" check sample.sgxs oracle.bin
	run 0 "oracle shows our SIGSTRUCT" python3 "$ORACLE" show sig2.bin
	if python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["problems"] == [] and d["isvprodid"] == 7' <out; then
		ok "the oracle finds no problem in our SIGSTRUCT"
	else
		bad "the oracle finds problems in our SIGSTRUCT"
	fi
else
	echo "SKIP oracle cross-checks: $ORACLE not found"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
