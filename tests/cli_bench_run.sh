#!/usr/bin/env bash
# cli_bench_run.sh: bench run measures the ECALL, the fault floor and
# ADD_PAGES through a machine in one run: its JSON has every key, each
# ratio is the ratio of the figures printed beside it, the fault that
# cannot be measured yet is null (never a number made up), --quick makes
# the sizes its --help states (no timing is asserted: the figures are the
# host's).
#
#   bash cli_bench_run.sh SGXEMU_BIN SAMPLE_ELF
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"

if run 0 "bench run --quick --json" "$SGXEMU" bench run --quick --json; then
	if python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
fails = []
def want(cond, what):
    if not cond:
        fails.append(what)
num = lambda k: isinstance(d.get(k), (int, float)) and not isinstance(d.get(k), bool)
for k in ("ecall_p50_us", "ecall_p99_us", "trap_p50_us", "trap_p99_us", "ecall_ratio",
          "add_pages_per_s", "core_add_pages_per_s", "add_ratio"):
    want(num(k) and d[k] > 0, "%s is a positive number: %r" % (k, d.get(k)))
want(d["benchmark"] == "run" and d["quick"] is True, "benchmark run, quick")
want(d["iterations"] == 2000, "2000 round trips with --quick")
want(d["add_pages_bytes"] == 16 << 20, "ADD_PAGES of 16 MiB with --quick")
want(d["ecall_path"] in ("in-process core", "machine"), "ecall_path")
want(d["trap_signal"] in ("SIGILL (#UD)", "SIGSEGV (#GP)"), "trap_signal " + d["trap_signal"])
rel = lambda a, b: abs(a - b) <= 1e-9 * max(abs(a), abs(b))
if not fails:
    want(rel(d["ecall_ratio"], d["ecall_p50_us"] / d["trap_p50_us"]), "ecall_ratio is ecall_p50 / trap_p50")
    want(rel(d["add_ratio"], d["add_pages_per_s"] / d["core_add_pages_per_s"]), "add_ratio is machine / core")
    want(d["ecall_p99_us"] >= d["ecall_p50_us"] and d["trap_p99_us"] >= d["trap_p50_us"], "p99 >= p50")
# The fault: measured with its ratio, or not measurable and null.
for k in ("fault_p50_us", "fault_p99_us", "fault_ratio", "fault_floor_p50_us", "fault_measurable"):
    want(k in d, "key " + k)
if d.get("fault_measurable"):
    want(num("fault_p50_us") and num("fault_floor_p50_us") and
         rel(d["fault_ratio"], d["fault_p50_us"] / d["fault_floor_p50_us"]), "fault_ratio is fault_p50 / floor_p50")
else:
    want(d["fault_p50_us"] is None and d["fault_p99_us"] is None and d["fault_ratio"] is None,
         "an unmeasured fault is null")
if d.get("fault_floor_p50_us") is not None:
    want(d["fault_floor_p50_us"] > 0 and d["fault_floor_p99_us"] >= d["fault_floor_p50_us"], "the floor's p50 and p99")
    want(d["uffd_p50_us"] > 0 and d["aes_gcm_page_p50_us"] > 0, "the floor's parts")
t = d["targets"]
want(t == {"ecall_ratio_max": 1.5, "fault_ratio_max": 1.5, "add_ratio_min": 0.8}, "targets %r" % t)
for f in fails:
    print("   ", f)
sys.exit(1 if fails else 0)
PY
	then
		ok "every key, and each ratio is the ratio of its figures"
	else
		bad "bench run --json keys or ratios"
	fi
fi

if run 0 "bench run --quick (text)" "$SGXEMU" bench run --quick; then
	has out "^ECALL round trip \(EENTER..EEXIT\)" "text: the ECALL"
	has out "bare ENCLU trap, SIG(ILL|SEGV) \(#(UD|GP)\): p50 [0-9.]+ us" "text: the trap floor and its kind"
	has out "ecall_ratio [0-9]+\.[0-9]+ \(target <= 1.5\)" "text: ecall_ratio"
	has out "(fault_ratio [0-9]+\.[0-9]+|not measurable yet)" "text: the fault or why not"
	has out "userfaultfd minor fault \+ AES-128-GCM page: p50 [0-9.]+ us|floor: not measurable here" "text: the fault floor"
	has out "ADD_PAGES of 16 MiB .*through the machine [0-9]+ pages/s, the core's own [0-9]+ pages/s" "text: ADD_PAGES"
	has out "add_ratio [0-9]+\.[0-9]+ \(target >= 0.8\)" "text: add_ratio"
	# The text's ratio is its figures' ratio (to the digits printed).
	if python3 - out <<'PY'
import re, sys
t = open(sys.argv[1]).read()
e = float(re.search(r"p50 ([0-9.]+) us, p99", t).group(1))
tr = float(re.search(r"bare ENCLU trap, [^:]*: p50 ([0-9.]+) us", t).group(1))
r = float(re.search(r"ecall_ratio ([0-9.]+)", t).group(1))
m, c = map(float, re.search(r"machine ([0-9]+) pages/s, the core's own ([0-9]+) pages/s", t).groups())
a = float(re.search(r"add_ratio ([0-9.]+)", t).group(1))
ok = abs(r - e / tr) <= 0.0015 * max(1, r) and abs(a - m / c) <= 0.0015 * max(1, a)
sys.exit(0 if ok else 1)
PY
	then
		ok "text: ratios match the printed figures"
	else
		bad "text: a ratio is not its figures' ratio"
	fi
fi
run 2 "bench run extra" "$SGXEMU" bench run extra
has err "unexpected argument 'extra'" "the surplus argument is named"
run 2 "bench run --iterations" "$SGXEMU" bench run --iterations 5
run 0 "bench --json run --help" "$SGXEMU" bench --json run --help
has out "^NAME" "bench run --help is a manual page"
if grep -q "Sanitizer" err; then
	bad "sanitizer report"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
