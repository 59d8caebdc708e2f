#!/usr/bin/env bash
# cli_bounds.sh: the host memory a command may take (--max-memory, default
# 1 GiB) is checked before it is taken, and the refusal gives the figure.
#
#   bash cli_bounds.sh SGXEMU_BIN SAMPLE_ELF
#
# check backs its whole EPC: an ELF of a few bytes whose bss spans 1.5 GiB
# is refused up front (under a 512 MiB address-space limit, but for a
# sanitizer's build, so taking the memory first would fail differently), and is built once the limit allows
# it; measure and sign refuse a file whose reading would pass the limit
# before reading it; bad sizes are usage errors.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"

# elf NAME BSS_BYTES: a TCS page and a read-write segment of BSS_BYTES of
# zeros (no file bytes).
elf() {
	python3 - "$1" "$2" <<'EOF'
import struct, sys
bss = int(sys.argv[2])
eh = bytearray(64)
eh[0:4] = b'\x7fELF'; eh[4] = 2; eh[5] = 1; eh[6] = 1
struct.pack_into('<HHIQQQIHHHHHH', eh, 16, 3, 62, 1, 0, 64, 0, 0, 64, 56, 2, 0, 0, 0)
ph = struct.pack('<IIQQQQQQ', 1, 6, 4096, 0, 0, 4096, 4096, 4096)
ph += struct.pack('<IIQQQQQQ', 1, 6, 8192, 4096, 4096, 0, bss, 4096)
body = bytes(eh) + ph
open(sys.argv[1], "wb").write(body + bytes(8192 - len(body)))
EOF
}

run 0 "keygen" "$SGXEMU" keygen -o key.pem
run 0 "sign the sample" "$SGXEMU" sign --key key.pem -o sig.bin "$SAMPLE"

elf big.elf $((1536 << 20))
run 0 "measure of a 1.5 GiB-bss ELF (nothing backed)" "$SGXEMU" measure big.elf
# A sanitizer's shadow memory needs more address space than the limit.
if grep -q __asan_init "$SGXEMU"; then vlimit=unlimited; else vlimit=524288; fi
(
	ulimit -v $vlimit
	exec "$SGXEMU" check big.elf sig.bin
) >out 2>err
rc=$?
[ "$rc" -eq 2 ] && ok "check of a 1.5 GiB enclave is refused (exit 2)" || bad "check big.elf: exit $rc, want 2"
has err "big.elf: needs 15[5-9][0-9] MiB of host memory \(an EPC of 1537 MiB \+ the image's [0-9]+ MiB\), more than the limit of 1024 MiB; --max-memory SIZE raises it" \
	"the refusal gives the figure, its parts and the limit"
run 2 "check --max-memory 1000M of the same" "$SGXEMU" check --max-memory 1000M big.elf sig.bin
has err "more than the limit of 1000 MiB" "--max-memory sets the limit"
run 2 "check --epc-mb 2000 of the sample" "$SGXEMU" check --epc-mb 2000 "$SAMPLE" sig.bin
has err "an EPC of 2000 MiB" "an --epc-mb EPC counts in full"

elf mid.elf $((48 << 20))
run 2 "check --max-memory 32M of a 48 MiB enclave" "$SGXEMU" check --max-memory 32M mid.elf sig.bin
has err "needs 50 MiB of host memory" "the figure covers EPC and image"
run 1 "check --max-memory 64M of it builds (EINIT refuses the sample's SIGSTRUCT)" \
	"$SGXEMU" check --max-memory 64M mid.elf sig.bin
has out "^EINIT: SGX_INVALID_MEASUREMENT$" "the build ran to EINIT"

# Reading: the file's bytes and the pages copied from them.
SIZE=$(stat -c %s "$SAMPLE")
run 2 "measure --max-memory 4K of the sample" "$SGXEMU" measure --max-memory 4K "$SAMPLE"
has err "needs [0-9]+ MiB of host memory \(the file's [0-9]+ MiB read and copied into pages\), more than the limit of 1 MiB" \
	"a file is refused before it is read"
run 2 "sign --max-memory 1K of the sample" "$SGXEMU" sign --max-memory 1K --key key.pem -o x.bin "$SAMPLE"
[ ! -e x.bin ] && ok "a refused sign writes nothing" || bad "x.bin written"
run 0 "measure --max-memory $((2 * SIZE + 4096 * 64)) of the sample" \
	"$SGXEMU" measure --max-memory $((2 * SIZE + 4096 * 64)) "$SAMPLE"
run 0 "measure --max-memory 1GiB" "$SGXEMU" measure --max-memory 1GiB "$SAMPLE"
# The page entries of a large heap count too.
run 2 "measure --heap 1048000 --max-memory 16M" "$SGXEMU" measure --heap 1048000 --max-memory 16M "$SAMPLE"
has err "the image's [0-9]+ pages" "heap page entries are counted"

for v in 0 abc 1X 12MB5 -1 "" 99999999999999999999 20000000T; do
	run 2 "--max-memory '$v'" "$SGXEMU" measure --max-memory "$v" "$SAMPLE"
	has err "--max-memory: '$v' is not a size" "--max-memory '$v' is named"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
