#!/usr/bin/env bash
# cli_fields.sh: every SIGSTRUCT field is an option of sign, and with them
# sign reproduces byte for byte a SIGSTRUCT another signer made.
#
#   bash cli_fields.sh SGXEMU_BIN SAMPLE_ELF
#
# --date (YYYYMMDD, today, a raw value, 0), --vendor, --swdefined,
# --isvfamilyid, --isvextprodid, --miscselect, --misc-mask, the attribute
# and XFRM values and masks (attributes also by name): each round-trips
# through show --json; and SIGSTRUCTs with unusual fields (date 0, vendor
# 0x8086, zero masks, KSS fields) made by the independent oracle
# (shared/oracle/sgxref.py, or $SGXREF) with our key are reproduced
# exactly by sign.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"
ORACLE=${SGXREF:-$HERE/../../shared/oracle/sgxref.py}

same() { if [ "$1" = "$2" ]; then ok "$3"; else bad "$3: '$1' != '$2'"; fi; }
field() {
	python3 -c 'import json,sys; v=json.load(sys.stdin)[sys.argv[1]]; print(str(v).lower() if isinstance(v, bool) else v)' "$1" <out 2>/dev/null
}

run 0 "keygen" "$SGXEMU" keygen -o key.pem

# --- each field round-trips through show -----------------------------------
FAM=00112233445566778899aabbccddeeff
EXT=ffeeddccbbaa99887766554433221100
run 0 "sign with every field set" "$SGXEMU" sign --key key.pem -o all.bin --date 0x12345678 \
	--vendor 0x8086 --swdefined 0xdeadbeef --isvfamilyid $FAM --isvextprodid $EXT \
	--miscselect 0x1 --misc-mask 0xfffffffe --attributes MODE64BIT,DEBUG,KSS \
	--attributes-mask 0xfffffffffffffffd --xfrm 0x7 --xfrm-mask 0x3 --isvprodid 513 --isvsvn 9 \
	"$SAMPLE"
run 0 "show --json of it" "$SGXEMU" show --json all.bin
same "$(field date)/$(field vendor)/$(field swdefined)" "0x12345678/0x8086/0xdeadbeef" \
	"date, vendor and swdefined round-trip"
same "$(field date_string)" "not a date" "a raw date that is no date says so"
same "$(field isvfamilyid)/$(field isvextprodid)" "$FAM/$EXT" "the KSS fields round-trip"
same "$(field miscselect)/$(field misc_mask)" "0x1/0xfffffffe" "MISCSELECT and its mask round-trip"
same "$(field attributes)/$(field attribute_names)/$(field attributes_mask)" \
	"0x86/DEBUG|MODE64BIT|KSS/0xfffffffffffffffd" "attributes by name and the mask round-trip"
same "$(field xfrm)/$(field xfrm_mask)" "0x7/0x3" "XFRM and its mask round-trip"
same "$(field isvprodid)/$(field isvsvn)/$(field verified)" "513/9/true" "ISVPRODID, ISVSVN; it verifies"

run 0 "sign --date 0" "$SGXEMU" sign --json --key key.pem -o d0.bin --date 0 "$SAMPLE"
same "$(field date)" "0x0" "--date 0 is the raw value 0"
run 0 "sign --date today" "$SGXEMU" sign --json --key key.pem -o dt.bin --date today "$SAMPLE"
same "$(field date)" "0x$(date -u +%Y%m%d)" "--date today is today (UTC)"
run 0 "sign --date 20240229" "$SGXEMU" sign --json --key key.pem -o dl.bin --date 20240229 "$SAMPLE"
same "$(field date)" "0x20240229" "--date YYYYMMDD is BCD"
run 0 "show of the dated SIGSTRUCT" "$SGXEMU" show dl.bin
has out "^date +0x20240229 \(2024-02-29\)$" "show prints the date as a date"
run 0 "sign --attributes 'debug|mode64bit'" "$SGXEMU" sign --json --key key.pem -o an.bin \
	--attributes 'debug|mode64bit' "$SAMPLE"
same "$(field attributes)" "0x6" "attribute names in any case, joined by |"
for bad in "--date 12345" "--date 0x123456789" "--date yesterday" "--attributes MODE64BIT,BOGUS" \
	"--attributes MODE64BIT," "--isvfamilyid 0011" "--isvextprodid ${EXT}00" "--isvfamilyid zz${FAM:2}" \
	"--swdefined 0x100000000"; do
	# shellcheck disable=SC2086
	run 2 "sign $bad" "$SGXEMU" sign --key key.pem -o x.bin $bad "$SAMPLE"
	has err "${bad%% *}" "sign $bad: the option is named"
done

# --- the oracle's SIGSTRUCTs, reproduced -------------------------------------
if [ ! -f "$ORACLE" ]; then
	echo "SKIP oracle reproductions: $ORACLE not found"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
fi
# Our key as the oracle takes it: n and d.
openssl rsa -in key.pem -noout -text 2>/dev/null | python3 -c '
import json, re, sys
text = sys.stdin.read()
def num(name):
    m = re.search(name + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
    return int(re.sub(r"[^0-9a-f]", "", m.group(1)), 16)
json.dump({"n": hex(num("modulus")), "e": 3, "d": hex(num("privateExponent"))}, open("okey.json", "w"))
'
# The sample's layout with 4 heap pages, as cli_sign.sh reads the image
# contract, with the fields of each case.
layout() { # layout OUT.json FIELDS-JSON
	python3 - "$SAMPLE" "$1" "$2" <<'EOF'
import json, struct, sys
elf = open(sys.argv[1], "rb").read()
phoff, = struct.unpack_from("<Q", elf, 32)
phnum, = struct.unpack_from("<H", elf, 56)
phs = [struct.unpack_from("<IIQQQQQQ", elf, phoff + 56 * i) for i in range(phnum)]
loads = [p for p in phs if p[0] == 1]
pages, blob, end = [], bytearray(), 0
for i, (_, flags, off, vaddr, _, filesz, memsz, _) in enumerate(loads):
    data = elf[off:off + filesz]
    perm = (1 if flags & 4 else 0) | (2 if flags & 2 else 0) | (4 if flags & 1 else 0)
    for p in range((memsz + 4095) // 4096):
        chunk = data[p * 4096:(p + 1) * 4096]
        pages.append({"offset": vaddr + p * 4096, "flags": hex(0x100 if i == 0 else 0x200 | perm),
                      "measure": True, "src": len(blob)})
        blob += chunk + bytes(4096 - len(chunk))
    end = vaddr + (memsz + 4095) // 4096 * 4096
for h in range(4):
    pages.append({"offset": end + h * 4096, "flags": "0x203", "measure": False})
end += 4 * 4096
size = 8192
while size < end:
    size *= 2
layout = {"size": size, "ssaframesize": 1, "blob": "blob.bin", "pages": pages}
layout.update(json.loads(sys.argv[3]))
open("blob.bin", "wb").write(blob)
json.dump(layout, open(sys.argv[2], "w"))
EOF
}
n=0
while IFS='|' read -r fields opts; do
	n=$((n + 1))
	layout "l$n.json" "$fields"
	python3 "$ORACLE" sign "l$n.json" okey.json "o$n.bin"
	# shellcheck disable=SC2086
	run 0 "sign case $n ($opts)" "$SGXEMU" sign --heap 4 --key key.pem -o "s$n.bin" $opts "$SAMPLE"
	if cmp -s "o$n.bin" "s$n.bin"; then
		ok "case $n: sign reproduces the oracle's SIGSTRUCT byte for byte"
	else
		bad "case $n: the SIGSTRUCTs differ at $(cmp "o$n.bin" "s$n.bin" | head -1)"
	fi
done <<'EOF'
{"date": 0, "attributes_mask": "0xffffffffffffffff", "xfrm_mask": "0x3", "misc_mask": 4294967295}|--date 0
{"date": 0, "vendor": "0x8086", "attributes_mask": 0, "xfrm_mask": 0, "misc_mask": 0}|--date 0 --vendor 0x8086 --attributes-mask 0 --xfrm-mask 0 --misc-mask 0
{"date": "0x20261231", "attributes": "0x86", "attributes_mask": "0xfffffffffffffffd", "xfrm": "0x7", "xfrm_mask": "0x7", "misc_mask": 4294967295, "isvfamilyid": "0102030405060708090a0b0c0d0e0f10", "isvextprodid": "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf", "isvprodid": 65535, "isvsvn": 65535, "swdefined": "0xffffffff"}|--date 20261231 --attributes MODE64BIT,DEBUG,KSS --attributes-mask 0xfffffffffffffffd --xfrm 0x7 --isvfamilyid 0102030405060708090a0b0c0d0e0f10 --isvextprodid a0a1a2a3a4a5a6a7a8a9aaabacadaeaf --isvprodid 65535 --isvsvn 65535 --swdefined 0xffffffff
{"date": "0xffffffff", "miscselect": 1, "misc_mask": 1, "attributes": "0x4", "attributes_mask": "0x4", "xfrm_mask": "0x1"}|--date 0xffffffff --miscselect 1 --misc-mask 1 --attributes-mask MODE64BIT --xfrm-mask 1
EOF

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
