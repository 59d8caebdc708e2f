#!/usr/bin/env bash
# cli_stat_machine.sh: stat --machine reads a running machine: a client
# (tests/machine_client, beside the sgxemu binary) builds two enclaves
# that overcommit a small two-node EPC, holding each handle twice (dup)
# and sharing them with a forked child; the figures stat prints must be
# the true ones: the bases, sizes and pages the client made, the owners'
# pids, each process's handles and descriptors, and every total the sum
# of its parts (EPC in use over the enclaves' pages, charges, VA pages,
# write-backs, the nodes).  After the client ends, everything is back.
# Then --watch (redraws until SIGINT or SIGTERM, exit 0; a machine that
# stops ends it with exit 1), and the refusals: no file, not a socket, a
# stale socket, option misuse.
#
#   bash cli_stat_machine.sh SGXEMU_BIN SAMPLE_ELF
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"
CLIENT=$(dirname "$SGXEMU")/tests/machine_client
if [ ! -x "$CLIENT" ]; then
	echo "no $CLIENT (built with the tests)" >&2
	exit 2
fi

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# start_machine SOCKET ARGS...: a machine in the background, its pid in $mpid.
start_machine() {
	local sock=$1
	shift
	"$SGXEMU" machine --socket "$sock" "$@" 2>machine.err &
	mpid=$!
	pids+=("$mpid")
	for _ in $(seq 100); do
		[ -S "$sock" ] && return 0
		sleep 0.05
	done
	return 1
}

start_machine m.sock --epc 256K --sections 2 || bad "machine did not start"
mkfifo hold
SGXEMU_MACHINE=m.sock "$CLIENT" --dup --fork 2 262144 48 <hold >client.out 2>client.err &
cpid=$!
pids+=("$cpid")
exec 7>hold
for _ in $(seq 200); do
	grep -q '^ready' client.out && break
	sleep 0.05
done
if grep -q '^ready' client.out; then
	ok "the client built its enclaves"
else
	bad "the client is not ready: $(cat client.err)"
fi

if run 0 "stat --machine --json" "$SGXEMU" stat --machine m.sock --json; then
	if python3 - client.out out <<'PY'
import json, sys
client = open(sys.argv[1]).read().split("\n")
d = json.load(open(sys.argv[2]))
made = [l.split() for l in client if l.startswith("enclave ")]
ready = [l.split() for l in client if l.startswith("ready ")][0]
owners = sorted(int(p) for p in ready[1:])
fails = []
def want(cond, what):
    if not cond:
        fails.append(what)
E = d["enclaves"]
want(d["enclaves_listed"] == 2 and len(E) == 2, "2 enclaves listed, not %d" % d["enclaves_listed"])
for e, (_, i, base, size, pages) in zip(E, made):
    n = "enclave %s" % i
    want(int(e["base"], 16) == int(base, 16), n + ": base %s, made %s" % (e["base"], base))
    want(e["size"] == int(size), n + ": size")
    want(e["pages"] == int(pages), n + ": pages %d, added %s" % (e["pages"], pages))
    want(e["state"] == "created", n + ": state " + e["state"])
    want(e["va_pages"] == 1, n + ": va_pages %d (the kernel's policy: 1)" % e["va_pages"])
    children_out = e["written_back"] - (0 if e["secs_resident"] else 1)
    want(e["resident"] + children_out == e["pages"], n + ": resident + written back != pages")
    want(e["writebacks"] - e["loads"] == children_out, n + ": write-backs less loads != written back")
    want(e["va_slots_used"] == e["written_back"], n + ": VA slots used != pages written back")
    want(e["charged"] >= e["written_back"], n + ": charged below written back")
    want(e["epc_pages"] == e["resident"] + e["secs_resident"] + e["va_pages"], n + ": epc_pages")
    want(e["owners"] == owners and e["nr_owners"] == 2, n + ": owners %s, want %s" % (e["owners"], owners))
    want(e["handles"] == 1, n + ": handles %d" % e["handles"])
    want(e["faults"] == 0 and e["faults_loaded"] == 0, n + ": faults without a mapping")
s = lambda k: sum(e[k] for e in E)
epc, pg, va, bk, drv = d["epc"], d["paging"], d["va"], d["backing"], d["driver"]
want(pg["pages_written_back"] > 0, "no write-back: the EPC was not overcommitted")
want(s("epc_pages") == epc["in_use"], "EPC in use %d != the enclaves' pages %d" % (epc["in_use"], s("epc_pages")))
want(epc["in_use"] + epc["free"] + epc["poisoned"] + epc["kept"] == epc["total"], "EPC parts != total")
want(epc["epcm_valid"] == epc["in_use"], "EPCM valid != in use")
want(epc["total"] == 64, "EPC total %d, want 64 (256K)" % epc["total"])
N = epc["nodes"]
want(len(N) == 2 and [x["total"] for x in N] == [32, 32], "two nodes of 32 pages")
want(sum(x["free"] for x in N) == epc["free"], "nodes' free != free")
want(sum(x["in_use"] for x in N) == epc["in_use"], "nodes' in use != in use")
want(s("charged") == bk["charged"], "charged %d != the enclaves' %d" % (bk["charged"], s("charged")))
want(bk["limit"] == 96, "backing limit %d, want 150%% of 64" % bk["limit"])
want(s("va_pages") == va["pages"] and va["policy"] == "kernel", "VA pages")
want(s("va_slots_used") == va["slots_used"], "VA slots")
want(s("writebacks") == pg["pages_written_back"], "write-backs != the enclaves'")
want(s("loads") == pg["pages_loaded"], "loads != the enclaves'")
for k in ("retry_etrack", "retry_ipi", "gave_up", "failures", "etracks", "kicks"):
    want(isinstance(d["ewb"][k], int), "ewb." + k)
want(drv["encl_files"] == 2 and drv["handles"] == 2 and drv["core_enclaves"] == 2, "driver counts")
P = {p["pid"]: p for p in d["processes"]}
want(d["processes_listed"] == len(P) == 3, "3 processes (client, child, stat), not %d" % len(P))
for pid in owners:
    p = P.get(pid)
    if not p:
        fails.append("process %d not listed" % pid)
        continue
    want(p["handles"] == 2 and p["descriptors"] == 4 and p["enclaves"] == 2, "process %d: handles %d, descriptors %d, enclaves %d" % (pid, p["handles"], p["descriptors"], p["enclaves"]))
    want(p["epc_pages"] == s("epc_pages"), "process %d: epc_pages %d" % (pid, p["epc_pages"]))
    want(p["descriptors_known"], "process %d: descriptors unknown" % pid)
others = [p for pid, p in P.items() if pid not in owners]
want(len(others) == 1 and others[0]["handles"] == 0 and others[0]["connections"] >= 1, "the stat process itself")
for f in fails:
    print("   ", f)
sys.exit(1 if fails else 0)
PY
	then
		ok "every figure is the true one"
	else
		bad "stat --machine --json figures"
	fi
fi

read -r _ cp ch < <(grep '^ready' client.out)
if run 0 "stat --machine (text)" "$SGXEMU" stat --machine m.sock; then
	has out "^sgxemu stat: the machine at m.sock \(pid $mpid\)" "text names the machine and its pid"
	has out "^enclaves: 2$" "text: 2 enclaves"
	has out "^ +1 0x100000000 +262144 created +48 .* $cp,$ch$" "text: enclave 1 with its owners"
	has out "^ +2 0x200000000 +262144 created +48 .* $cp,$ch$" "text: enclave 2 with its owners"
	has out "^client processes: 3$" "text: 3 client processes"
	has out "^ +$cp +[0-9]+ +1 +2 +4 +2 +[0-9]+$" "text: the client's handles, descriptors, enclaves"
	has out "^  node 1 \(nid 1\): 32 pages" "text: node 1"
	has out "^EWB retries: [0-9]+ after ETRACK, [0-9]+ after kicks, [0-9]+ gave up" "text: EWB retries by cause"
fi

# The client ends: every page, charge, handle and its processes go.
exec 7>&-
wait "$cpid"
rc=$?
[ "$rc" -eq 0 ] && ok "the client ended cleanly" || bad "client exit $rc: $(cat client.err)"
sleep 0.2
if run 0 "stat --machine after the client" "$SGXEMU" stat --machine m.sock --json; then
	if python3 -c '
import json, sys
d = json.load(open("out"))
e, b, v, r = d["epc"], d["backing"], d["va"], d["driver"]
ok = (d["enclaves"] == [] and e["free"] == e["total"] and e["epcm_valid"] == 0 and b["charged"] == 0
      and v["pages"] == 0 and v["slots_used"] == 0 and r["handles"] == 0 and r["encl_files"] == 0
      and len(d["processes"]) == 1 and d["processes"][0]["handles"] == 0)
sys.exit(0 if ok else 1)'; then
		ok "after the client: no enclave, every frame free, nothing charged, only stat itself"
	else
		bad "after the client, something is left"
	fi
fi

# --watch: redraws until SIGINT or SIGTERM, then exit 0.
for sig in INT TERM; do
	"$SGXEMU" stat --machine m.sock --watch 1 >watch.out 2>watch.err &
	w=$!
	sleep 2.5
	kill -"$sig" "$w"
	wait "$w"
	rc=$?
	n=$(grep -c '^sgxemu stat: the machine at m.sock' watch.out)
	if [ "$rc" -eq 0 ] && [ "$n" -ge 2 ]; then
		ok "--watch 1: $n readings, SIG$sig ends it with exit 0"
	else
		bad "--watch 1 then SIG$sig: exit $rc, $n readings: $(head -2 watch.err)"
	fi
done
"$SGXEMU" stat --machine m.sock --watch 1 --json >watch.out 2>watch.err &
w=$!
sleep 1.5
kill -INT "$w"
wait "$w"
rc=$?
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
t = open("watch.out").read()
dec, at, n = json.JSONDecoder(), 0, 0
while t[at:].strip():
    obj, end = dec.raw_decode(t, at)
    assert obj["machine"] == "m.sock"
    n += 1
    at = end
    while at < len(t) and t[at].isspace():
        at += 1
sys.exit(0 if n >= 1 else 1)'; then
	ok "--watch --json: one JSON object per reading"
else
	bad "--watch --json: exit $rc or bad objects"
fi

# A machine that stops during a watch ends it: exit 1, the path named.
"$SGXEMU" stat --machine m.sock --watch 1 >watch.out 2>watch.err &
w=$!
sleep 1.2
kill -TERM "$mpid"
wait "$mpid"
mrc=$?
wait "$w"
rc=$?
[ "$mrc" -eq 0 ] && ok "the machine stopped cleanly" || bad "machine exit $mrc: $(cat machine.err)"
if [ "$rc" -eq 1 ] && grep -q "m.sock" watch.err; then
	ok "a machine that stops ends the watch: exit 1, $(grep -m1 'sgxemu stat' watch.err)"
else
	bad "watch after the machine stopped: exit $rc: $(cat watch.err)"
fi

# Nothing there, something else there, a machine gone.
run 1 "stat --machine (no file)" "$SGXEMU" stat --machine nothere.sock
has err "sgxemu stat: no machine at nothere.sock" "the missing path is named"
: >plain
run 1 "stat --machine (a regular file)" "$SGXEMU" stat --machine plain
has err "plain is not a machine's socket" "a file that is no socket is named"
start_machine dead.sock --epc 64K || bad "second machine did not start"
kill -9 "$mpid"
wait "$mpid" 2>/dev/null
run 1 "stat --machine (a stale socket)" "$SGXEMU" stat --machine dead.sock
has err "no machine answers at dead.sock" "a stale socket is named"
run 1 "stat --machine --json (a stale socket)" "$SGXEMU" stat --machine dead.sock --json
has out '"exit_status": 1' "the refusal as JSON"

# Options that do not go together.
run 2 "stat --watch without --machine" "$SGXEMU" stat --watch 1
has err "needs --machine" "the refusal says why"
run 2 "stat --machine with a workload option" "$SGXEMU" stat --machine m.sock --epc-mb 4
has err "epc-mb" "the workload option is named"
run 2 "stat --watch 0" "$SGXEMU" stat --machine m.sock --watch 0
run 2 "stat --machine ''" "$SGXEMU" stat --machine ''
if grep -q "Sanitizer" machine.err err watch.err client.err 2>/dev/null; then
	bad "sanitizer report"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
