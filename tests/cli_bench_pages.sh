#!/usr/bin/env bash
# cli_bench_pages.sh: bench epc --pages accepts every count in 16..262144,
# not only multiples of 32.  The PCMD buffer for the paging rounds is
# 128 bytes a page, so its size is a multiple of 4096 only when the count
# is a multiple of 32; aligned_alloc() must be given a size that is a
# multiple of its alignment (the ASan build aborts on one that is not).
#
#   bash cli_bench_pages.sh SGXEMU_BIN SAMPLE_ELF
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"

for n in 16 17 33 4095; do
	run 0 "bench epc --quick --pages $n" "$SGXEMU" bench epc --quick --pages "$n"
	if grep -q "Sanitizer" err; then
		bad "bench epc --quick --pages $n: sanitizer report"
	fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
