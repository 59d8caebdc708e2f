#!/usr/bin/env bash
# cli_bench_ecall.sh: bench ecall runs ECALLs through the runtime's enter
# function and the bare ENCLU trap in one run and reports both; its JSON
# has every key (no timing is asserted: the figures are the host's).
#
#   bash cli_bench_ecall.sh SGXEMU_BIN SAMPLE_ELF
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"

if run 0 "bench ecall --json" "$SGXEMU" bench ecall --json --iterations 1000; then
	for key in ecall_p50_us ecall_p99_us trap_p50_us trap_p99_us ecall_ratio; do
		has out "\"$key\": [0-9]+\.[0-9]+" "json has $key"
	done
	has out '"iterations": 1000' "json has iterations"
	has out '"ecall_ratio": ([1-9][0-9]*\.[0-9]+|0\.[0-9]*[1-9][0-9]*)' "ratio is positive"
fi
run 0 "bench ecall text" "$SGXEMU" bench ecall --iterations 500
has out "ecall_ratio [0-9]+\.[0-9]+" "text names the ratio"
run 2 "bench ecall --iterations 0" "$SGXEMU" bench ecall --iterations 0
run 2 "bench ecall extra" "$SGXEMU" bench ecall extra
if grep -q "Sanitizer" err; then
	bad "sanitizer report"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
