#!/usr/bin/env bash
# cli_epc.sh: the sgxemu command's SGX-core subcommands end to end: stat,
# the demo's paging part, and bench epc in its quick mode.
#
#   bash cli_epc.sh SGXEMU_BIN SAMPLE_ELF
#
# Each run must exit as documented, its --json output must parse and carry
# the documented keys, and every run that builds enclaves must end with
# every EPC frame free, no backing page charged and no VA page.  Benchmark
# figures are checked for presence and sign only, never for speed.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"

# expect NAME EXPR SHOW: with d the JSON object in ./out, the Python
# expression EXPR is true; on failure SHOW (an expression) is printed, so
# that both sides of a comparison are seen.
expect() {
	local msg
	msg=$(python3 - "$2" "$3" 2>&1 <<'EOF'
import json, sys
expr, show = sys.argv[1], sys.argv[2]
try:
    d = json.load(open("out"))
except Exception as e:
    print("output is not JSON: %s" % e)
    sys.exit(1)
env = {"d": d}
try:
    if eval(expr, env):
        sys.exit(0)
    print("%s is false; %s = %r" % (expr, show, eval(show, env)))
except Exception as e:
    print("%s: %s: %s" % (expr, type(e).__name__, e))
sys.exit(1)
EOF
	)
	if [ $? -eq 0 ]; then
		ok "$1"
	else
		bad "$1: $msg"
	fi
}

# The statistics object must have every group and key `sgxemu stat` shows.
STATS_KEYS='all(k in s for k in ("epc", "allocator", "enclaves", "paging", "ewb_retries", "tracking", "aging", "backing", "va", "reclaimer", "poison")) and all(k in s["epc"] for k in ("total", "free", "in_use", "poisoned", "leaked", "nodes")) and all(k in s["paging"] for k in ("pages_written_back", "secs_written_back", "pages_loaded", "secs_loaded", "load_failures")) and all(k in s["ewb_retries"] for k in ("etrack", "ipi", "gave_up", "failures")) and all(k in s["tracking"] for k in ("etracks", "kicks", "waits", "batch_waits")) and all(k in s["aging"] for k in ("hits", "misses")) and all(k in s["backing"] for k in ("limit", "charged", "limit_hits")) and all(k in s["va"] for k in ("pages", "slots_used")) and all(k in s["reclaimer"] for k in ("batches", "direct_reclaims", "wakeups")) and all(k in s["poison"] for k in ("poisoned_frames", "owner_errors")) and all(k in s["allocator"] for k in ("allocs", "steals", "global_locks", "wake_locks", "free_on_node_lists", "kept_frame_retries", "kept_frames_recovered")) and s["allocator"]["allocs"] > 0 and len(s["epc"]["nodes"]) >= 1'
# The state after release: every frame free, nothing charged, no VA page.
EMPTY='f["epc"]["free"] == f["epc"]["total"] > 0 and f["backing"]["charged"] == 0 and f["va"]["pages"] == 0 and f["va"]["slots_used"] == 0 and f["enclaves"]["count"] == 0 and sum(n["free"] for n in f["epc"]["nodes"]) == f["epc"]["total"]'
EMPTY_SHOW='(f["epc"], f["backing"], f["va"], f["enclaves"])'

# --- usage ---------------------------------------------------------------
run 0 "top-level --help" "$SGXEMU" --help
has out "^  stat " "--help lists stat"
for cmd in stat demo; do
	run 0 "$cmd --help" "$SGXEMU" "$cmd" --help
	has out "^       sgxemu $cmd( |$)" "$cmd --help shows usage"
	has out "^EXAMPLES$" "$cmd --help gives an example"
done
run 0 "bench --help" "$SGXEMU" bench --help
has out "bench epc .*--quick" "bench --help shows bench epc --quick"
has out "^ +sgxemu bench build" "bench --help gives an example"

# --- stat ----------------------------------------------------------------
run 0 "stat" "$SGXEMU" stat
has out "^workload: 3 enclaves of 1024 pages \(3\.0x the EPC\)" "stat: default workload overcommits 3x"
has out "^  paging +[1-9][0-9]* written back" "stat: pages were written back"
has out "^  aging " "stat: aging line"
has out "^  allocator +[1-9][0-9]* pages handed out, [0-9]+ stolen" "stat: allocator line"
has out "^  VA .*\(kernel policy\)" "stat: VA line, with the policy"
has out "^VA policy: kernel " "stat: the kernel's VA policy by default"
has out "^    node 0 +1024 total" "stat: per-node line"
has out "^after release: 1024 of 1024 EPC pages free, 0 backing pages charged, 0 VA pages, 0 enclaves; check: ok$" \
	"stat: everything back after release"

run 0 "stat --json" "$SGXEMU" stat --json --epc-mb 2
expect "stat --json: stats has every group and key" "(lambda s: $STATS_KEYS)(d['stats'])" "sorted(d['stats'])"
expect "stat --json: final has every group and key" "(lambda s: $STATS_KEYS)(d['final'])" "sorted(d['final'])"
expect "stat --json: 512 EPC pages" "d['epc_pages'] == 512 == d['stats']['epc']['total']" "(d['epc_pages'], d['stats']['epc']['total'])"
expect "stat --json: workload 3x the EPC, all checked" \
	"d['workload']['total_pages'] == d['workload']['pages_checked'] == 3 * 512 and d['workload']['stopped'] is None" \
	"d['workload']"
expect "stat --json: pages written back and loaded" \
	"d['stats']['paging']['pages_written_back'] > 0 and d['stats']['paging']['pages_loaded'] > 0 and d['stats']['paging']['load_failures'] == 0" \
	"d['stats']['paging']"
expect "stat --json: VA pages and charges while loaded" \
	"d['stats']['va']['pages'] > 0 and 0 < d['stats']['backing']['charged'] <= d['stats']['backing']['limit'] == 3 * 512" \
	"(d['stats']['va'], d['stats']['backing'])"
expect "stat --json: the kernel's VA policy, one VA page per 512 pages and SECS" \
	"d['va_policy'] == d['stats']['va']['policy'] == 'kernel' and d['stats']['va']['pages'] == 3 * 2" \
	"(d['va_policy'], d['stats']['va'], d['workload'])"
expect "stat --json: aging saw pages" "d['stats']['aging']['misses'] > 0" "d['stats']['aging']"
expect "stat --json: final state empty" "(lambda f: $EMPTY)(d['final'])" "(lambda f: $EMPTY_SHOW)(d['final'])"
expect "stat --json: final_ok and check ok" "d['final_ok'] is True and d['check'] == 'ok'" "(d['final_ok'], d['check'])"

run 0 "stat --enclaves 0 --json" "$SGXEMU" stat --enclaves 0 --json --epc-mb 1
expect "stat idle: nothing paged, all free" \
	"d['stats']['paging']['pages_written_back'] == 0 and d['stats']['epc']['free'] == d['stats']['epc']['total'] == 256" \
	"(d['stats']['paging'], d['stats']['epc'])"
expect "stat idle: final state empty" "(lambda f: $EMPTY)(d['final'])" "(lambda f: $EMPTY_SHOW)(d['final'])"
run 0 "stat --enclaves 0" "$SGXEMU" stat --enclaves 0
has out "^workload: none" "stat idle says so"

run 0 "stat --enclaves 2 --pages 300" "$SGXEMU" stat --json --epc-mb 1 --enclaves 2 --pages 300
expect "stat: --pages sets pages per enclave" \
	"d['workload']['pages_per_enclave'] == 300 and d['workload']['pages_checked'] == 600" "d['workload']"

run 0 "stat --limit-pct 50 (workload stopped by the limit)" "$SGXEMU" stat --json --epc-mb 1 --limit-pct 50
expect "stat: the limit stops the workload, and is reported" \
	"d['workload']['stopped'] is not None and 'backing limit' in d['workload']['stopped'] and d['stats']['backing']['limit'] == 128" \
	"(d['workload'], d['stats']['backing'])"
expect "stat: limit hit, charges within it" \
	"d['stats']['backing']['charged'] <= 128" "d['stats']['backing']"
expect "stat --limit-pct 50: final state empty" "(lambda f: $EMPTY)(d['final'])" "(lambda f: $EMPTY_SHOW)(d['final'])"

run 0 "stat --va-policy on-demand" "$SGXEMU" stat --json --epc-mb 1 --va-policy on-demand
expect "stat: --va-policy on-demand is on, and said" \
	"d['va_policy'] == d['stats']['va']['policy'] == d['final']['va']['policy'] == 'on-demand' and d['stats']['va']['pages'] > 0 and d['final_ok'] is True" \
	"(d['va_policy'], d['stats']['va'], d['final_ok'])"
expect "stat --va-policy on-demand: final state empty" "(lambda f: $EMPTY)(d['final'])" "(lambda f: $EMPTY_SHOW)(d['final'])"
run 0 "stat --va-policy on-demand (text)" "$SGXEMU" stat --epc-mb 1 --va-policy on-demand
has out "^VA policy: on-demand " "stat: the on-demand VA policy said"
run 2 "stat --va-policy other" "$SGXEMU" stat --va-policy other
has err "sgxemu stat: --va-policy: 'other' is not kernel or on-demand" "stat --va-policy names the choices"

run 2 "stat --epc-mb 0" "$SGXEMU" stat --epc-mb 0
has err "sgxemu stat: --epc-mb: '0' is not in 1\.\.1024" "stat --epc-mb 0 names the range"
run 2 "stat --epc-mb 2048" "$SGXEMU" stat --epc-mb 2048
run 2 "stat --enclaves 65" "$SGXEMU" stat --enclaves 65
has err "sgxemu stat: --enclaves: '65'" "stat --enclaves 65 is named"
run 2 "stat --pages x" "$SGXEMU" stat --pages x
run 2 "stat --pages 0" "$SGXEMU" stat --pages 0
run 2 "stat --limit-pct -1" "$SGXEMU" stat --limit-pct -1
run 2 "stat: too many pages in all" "$SGXEMU" stat --enclaves 64 --pages 100000
has err "more than 1048576 pages" "stat: the bound is named"
run 2 "stat extra argument" "$SGXEMU" stat extra
has err "unexpected argument 'extra'" "stat names the stray argument"
run 2 "stat --bogus" "$SGXEMU" stat --bogus

# --- demo ----------------------------------------------------------------
run 0 "demo" "$SGXEMU" demo --enclave "$SAMPLE"
has out "^EINIT: ok$" "demo says EINIT: ok"
has out "^MRENCLAVE +[0-9a-f]{64}$" "demo prints MRENCLAVE"
has out "^MRSIGNER +[0-9a-f]{64}$" "demo prints MRSIGNER"
has out "^  verify +every byte back" "demo: every byte read back"
has out "^paging +[1-9][0-9]* pages written back" "demo: pages were written back"
has out "after release: 256 of 256 EPC pages free, 0 charged, 0 VA pages$" "demo: everything back after release"
lines=$(wc -l <out)
if [ "$lines" -le 40 ]; then
	ok "demo output is $lines lines (<= 40)"
else
	bad "demo output is $lines lines, more than 40"
fi
last=$(tail -n 1 out)
[ "$last" = "EINIT: ok" ] && ok "demo ends with EINIT: ok" || bad "demo's last line is '$last'"

run 0 "demo --json" "$SGXEMU" demo --json --enclave "$SAMPLE"
expect "demo --json: EINIT ok, no step failed, nothing leaked" \
	"d['einit'] == 'ok' and d['failed_step'] is None and d['leaked_epc_pages'] == 0" \
	"(d['einit'], d['failed_step'], d['leaked_epc_pages'])"
expect "demo --json: identity present" \
	"len(d['mrenclave']) == 64 and len(d['mrsigner']) == 64" "(d['mrenclave'], d['mrsigner'])"
expect "demo --json: paging overcommits 4x a 256-page EPC" \
	"d['paging']['epc_pages'] == 256 and d['paging']['sample_pages'] + d['paging']['data_pages'] >= 4 * 256" \
	"d['paging']"
expect "demo --json: every page verified" \
	"d['paging']['pages_verified'] == d['paging']['sample_pages'] + d['paging']['data_pages']" \
	"(d['paging']['pages_verified'], d['paging']['sample_pages'], d['paging']['data_pages'])"
expect "demo --json: stats have every key" "(lambda s: $STATS_KEYS)(d['paging']['stats'])" "sorted(d['paging']['stats'])"
expect "demo --json: pages written back and loaded, VA pages used" \
	"d['paging']['stats']['paging']['pages_written_back'] > 0 and d['paging']['stats']['paging']['pages_loaded'] > 0 and d['paging']['stats']['va']['pages'] > 0" \
	"(d['paging']['stats']['paging'], d['paging']['stats']['va'])"
expect "demo --json: final state empty" "(lambda f: $EMPTY)(d['paging']['final'])" "(lambda f: $EMPTY_SHOW)(d['paging']['final'])"
expect "demo --json: final_ok" "d['paging']['final_ok'] is True" "d['paging']['final_ok']"

printf 'not an enclave' >junk.elf
run 2 "demo of a file that is not an enclave" "$SGXEMU" demo --json --enclave junk.elf
expect "failed demo: load failed, paging not reached" \
	"d['failed_step'] == 'load' and d['paging'] is None and d['einit'] == 'not reached'" \
	"(d['failed_step'], d['paging'], d['einit'])"
run 2 "demo --bogus" "$SGXEMU" demo --bogus
# The paging part writes 4 times an EPC twice the image: the image is bounded.
run 2 "demo --heap 4097" "$SGXEMU" demo --heap 4097 --enclave "$SAMPLE"
has err "--heap: '4097' is not a page count in 0..4096" "the heap bound is named"
run 2 "demo of an image too large for it" "$SGXEMU" demo --json --heap 4096 --enclave "$SAMPLE"
has err "pages with the heap; the demo takes at most 4096" "the image bound is named"
expect "demo of a large image: refused at load" "d['failed_step'] == 'load' and d['paging'] is None" \
	"(d['failed_step'], d['paging'])"
run 2 "demo extra argument" "$SGXEMU" demo extra

# --- bench epc --quick ----------------------------------------------------
run 0 "bench epc --quick --json" "$SGXEMU" bench epc --quick --json
BENCH_KEYS='("alloc_free_ns_1t", "alloc_free_ns_2t", "alloc_free_speedup_2t", "mutex_alloc_free_ns_1t", "mutex_alloc_free_ns_2t", "ewb_pages_per_s", "ewb_leaf_pages_per_s", "eldu_pages_per_s", "aes_gcm_pages_per_s", "ewb_ratio", "ewb_leaf_ratio", "eldu_ratio", "reclaim_pages_per_s", "reclaim_ratio", "reclaim_load_host_us", "reclaim_load_floor_pages_per_s", "reclaim_load_floor_ratio")'
expect "bench epc: every key present" "all(k in d for k in $BENCH_KEYS)" "sorted(d)"
expect "bench epc: every figure a positive number" \
	"all(isinstance(d[k], (int, float)) and d[k] > 0 for k in $BENCH_KEYS)" \
	"{k: d.get(k) for k in $BENCH_KEYS}"
expect "bench epc: targets and verdicts for each target" \
	"set(d['targets']) == set(d['pass']) == {'alloc_free_ns_1t', 'alloc_free_speedup_2t', 'ewb_ratio', 'eldu_ratio', 'reclaim_ratio', 'steals_per_1k_allocs', 'global_lock_per_1k_allocs'} and all(isinstance(v, bool) for v in d['pass'].values())" \
	"(d['targets'], d['pass'])"
expect "bench epc: ratios are rate over the AES-GCM rate" \
	"abs(d['ewb_ratio'] - d['ewb_pages_per_s'] / d['aes_gcm_pages_per_s']) < 1e-6 * d['ewb_ratio'] and abs(d['eldu_ratio'] - d['eldu_pages_per_s'] / d['aes_gcm_decrypt_pages_per_s']) < 1e-6 * d['eldu_ratio']" \
	"(d['ewb_ratio'], d['ewb_pages_per_s'], d['eldu_ratio'], d['eldu_pages_per_s'], d['aes_gcm_pages_per_s'], d['aes_gcm_decrypt_pages_per_s'])"
expect "bench epc: the owner's floor is its host operations plus a decryption" \
	"abs(d['reclaim_load_floor_pages_per_s'] - 1e6 / (d['reclaim_load_host_us'] + 1e6 / d['aes_gcm_decrypt_pages_per_s'])) < 1e-6 * d['reclaim_load_floor_pages_per_s'] and abs(d['reclaim_load_floor_ratio'] - d['reclaim_pages_per_s'] / d['reclaim_load_floor_pages_per_s']) < 1e-6 * d['reclaim_load_floor_ratio']" \
	"(d['reclaim_load_host_us'], d['reclaim_load_floor_pages_per_s'], d['reclaim_load_floor_ratio'], d['reclaim_pages_per_s'], d['aes_gcm_decrypt_pages_per_s'])"
expect "bench epc: reclaim_ratio is the reclaim rate over the AES-GCM rate" \
	"abs(d['reclaim_ratio'] - d['reclaim_pages_per_s'] / d['aes_gcm_pages_per_s']) < 1e-6 * d['reclaim_ratio']" \
	"(d['reclaim_ratio'], d['reclaim_pages_per_s'], d['aes_gcm_pages_per_s'])"
expect "bench epc: the allocation paths under the streaming workload" \
	"d['reclaim_allocs'] > 0 and all(isinstance(d[k], (int, float)) and d[k] >= 0 for k in ('steals_per_1k_allocs', 'global_lock_per_1k_allocs'))" \
	"{k: d.get(k) for k in ('reclaim_allocs', 'steals_per_1k_allocs', 'global_lock_per_1k_allocs')}"
expect "bench epc: quick sizes" "d['quick'] is True and d['paging_pages'] == 256 and d['reclaim_enclave_pages'] == 4 * d['reclaim_epc_pages']" \
	"(d['quick'], d['paging_pages'], d['reclaim_enclave_pages'], d['reclaim_epc_pages'])"
run 0 "bench epc --quick (table)" "$SGXEMU" bench epc --quick
has out "EWB \(EBLOCK\+ETRACK\+EWB\) .*>= 0\.5 +(PASS|MISS)$" "bench epc: EWB row with target and verdict"
has out "^  ELDU .*(PASS|MISS)$" "bench epc: ELDU row with verdict"
has out "^  reclaim_ratio .*>= 0\.3 +(PASS|MISS)$" "bench epc: reclaim_ratio row with target and verdict"
has out "page cache, 1 thread .*<= 50 ns +(PASS|MISS)$" "bench epc: allocation row with verdict"
has out "^  steals per 1k allocations .*<= 1 +(PASS|MISS)$" "bench epc: steals row with verdict"
has out "^  global locks per 1k allocs .*<= 1 +(PASS|MISS)$" "bench epc: global lock row with verdict"
run 0 "bench epc --quick --threads 3" "$SGXEMU" bench epc --quick --json --threads 3 --pages 64
expect "bench epc --threads 3: a third run" "[r['threads'] for r in d['alloc_runs']] == [1, 2, 3] and d['paging_pages'] == 64" \
	"(d['alloc_runs'], d['paging_pages'])"
run 2 "bench epc --pages 3" "$SGXEMU" bench epc --pages 3
has err "sgxemu bench: --pages: '3' is not in 16\.\.262144" "bench epc --pages names the range"
run 2 "bench epc --threads 0" "$SGXEMU" bench epc --threads 0
run 2 "bench epc --iterations x" "$SGXEMU" bench epc --iterations x
run 2 "bench epc --bogus" "$SGXEMU" bench epc --bogus
run 2 "bench epc extra argument" "$SGXEMU" bench epc extra

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
