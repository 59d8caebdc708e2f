#!/usr/bin/env bash
# Runs every test three ways: a debug-checked build, ASan+UBSan, and the
# threaded tests under TSan.  Prints one closing "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
total_pass=0
total_fail=0
status=0

run() { # name, ctest args, cmake args...
	local name=$1 ctest_args=$2
	shift 2
	local dir=build-$name
	echo "=== $name build ==="
	if ! cmake -S . -B "$dir" "$@" >"$dir.configure.log" 2>&1; then
		cat "$dir.configure.log"
		total_fail=$((total_fail + 1))
		status=1
		return
	fi
	if ! cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
		tail -50 "$dir.build.log"
		total_fail=$((total_fail + 1))
		status=1
		return
	fi
	echo "=== $name tests ==="
	local log=$dir.ctest.log
	(cd "$dir" && ctest --output-on-failure -j"$jobs" $ctest_args) 2>&1 | tee "$log"
	local line
	line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
	if [ -z "$line" ]; then
		total_fail=$((total_fail + 1))
		status=1
		return
	fi
	local failed all
	failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/')
	all=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/')
	total_pass=$((total_pass + all - failed))
	total_fail=$((total_fail + failed))
	[ "$failed" -eq 0 ] || status=1
}

run debug "" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSGXEMU_DEBUG=ON
run asan "" -DCMAKE_BUILD_TYPE=Debug -DSGXEMU_SANITIZE=address -DSGXEMU_DEBUG=ON
run tsan "-L threads" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSGXEMU_SANITIZE=thread

# Fuzz targets: a short smoke run of each over its seed corpus, where clang
# and libFuzzer are present (Debian's clang and libclang-rt-14-dev).
fuzz() {
	local dir=build-fuzz secs=${FUZZ_SECONDS:-20}
	if ! command -v clang >/dev/null 2>&1; then
		echo "=== fuzz: skipped, clang not installed ==="
		return
	fi
	echo "=== fuzz build ==="
	if ! cmake -S . -B "$dir" -DSGXEMU_FUZZ=ON -DCMAKE_C_COMPILER=clang \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >"$dir.configure.log" 2>&1 ||
		! cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
		tail -30 "$dir.build.log" 2>/dev/null || cat "$dir.configure.log"
		total_fail=$((total_fail + 1))
		status=1
		return
	fi
	for target in "$dir"/fuzz/fuzz_*; do
		[ -x "$target" ] || continue
		local name corpus seeds
		name=$(basename "$target")
		corpus=$dir/corpus-$name
		seeds=fuzz/seeds/${name#fuzz_}
		mkdir -p "$corpus"
		[ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null
		[ "$name" = fuzz_elf ] && cp -n "$dir/sample_enclave.elf" "$corpus"/ 2>/dev/null
		echo "=== $name: ${secs}s ==="
		if "$target" -max_total_time="$secs" -print_final_stats=0 "$corpus" \
			>"$dir/$name.log" 2>&1; then
			echo "PASS $name ($(grep -c . "$dir/$name.log") log lines, no crash)"
			total_pass=$((total_pass + 1))
		else
			tail -40 "$dir/$name.log"
			echo "FAIL $name"
			total_fail=$((total_fail + 1))
			status=1
		fi
	done
}
fuzz

echo "$total_pass passed, $total_fail failed"
exit $status
