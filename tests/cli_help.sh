#!/usr/bin/env bash
# cli_help.sh: every command's --help is a manual page that describes
# what its parser takes and defaults that are what it does.
#
#   bash cli_help.sh SGXEMU_BIN SAMPLE_ELF
#
# The commands are the ones `sgxemu --help` lists (bench as the
# benchmarks its line names).  For each: --help has the sections NAME, SYNOPSIS,
# DESCRIPTION, OPTIONS, EXIT STATUS and EXAMPLES; every option name in
# the tools' sources that the command's parser accepts (probed as
# --name=, which never runs the command's work) is described in its
# OPTIONS, and every option described there is accepted; every option that
# takes a value states its default.  Then the defaults are checked against
# behaviour: each default that is a value (a number, a size, today,
# kernel, writable) is given explicitly and the result must be the same as
# without it (the same SIGSTRUCT, SGXS stream, MRENCLAVE, page list, EINIT
# report, workload, identity), and the defaults stated in words (XFRM
# mask, check's EPC, stat's pages, demo's enclave, bench epc's --quick
# sizes, bench ecall's iterations) are checked one by one.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"
TOOLS=$HERE/../src/tools

# --- the commands and the option names ------------------------------------
run 0 "top-level --help" "$SGXEMU" --help
commands=()
for c in $(sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' out); do
	if [ "$c" = bench ]; then
		# Its benchmarks, as its summary names them.
		for b in $(grep -E '^  bench ' out | grep -oE 'bench [a-z]+' | sed 's/^bench //'); do
			commands+=("bench $b")
		done
	else
		commands+=("$c")
	fi
done
if [ "${#commands[@]}" -ge 9 ]; then
	ok "--help lists ${#commands[@]} commands: ${commands[*]}"
else
	bad "--help lists ${#commands[@]} commands, want at least 9"
fi

# Every option name any command's table spells (struct tool_opt's .name,
# or a getopt struct option's first member).
mapfile -t universe < <(cat "$TOOLS"/*.c "$TOOLS"/*.h |
	grep -oE '\.name = "[a-z0-9][a-z0-9-]*", \.(val|short_name)|\{ "[a-z0-9][a-z0-9-]*", (no|required|optional)_argument' |
	sed -E 's/^[^"]*"([^"]*)".*/\1/' | sort -u)
if [ "${#universe[@]}" -ge 30 ]; then
	ok "${#universe[@]} option names in the sources"
else
	bad "only ${#universe[@]} option names found in $TOOLS"
fi

# parse_help FILE: one line per option of the OPTIONS section:
# NAME<TAB>ARG (or -)<TAB>the text after "Default:" (or -).
parse_help() {
	python3 - "$1" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r'^OPTIONS\n(.*?)^EXIT STATUS\n', text, re.S | re.M)
if not m:
    sys.exit(0)
opts = []
for line in m.group(1).splitlines():
    h = re.match(r'^ {7}(?:-[A-Za-z], )?--([a-z0-9-]+)(?: (\S+))?$', line)
    if h:
        opts.append([h.group(1), h.group(2) or '-', []])
    elif opts and line.startswith(' ' * 14):
        opts[-1][2].append(line.strip())
for name, arg, body in opts:
    doc = ' '.join(body)
    d = re.search(r'Default: (.*)', doc)
    print(f'{name}\t{arg}\t{d.group(1) if d else "-"}')
EOF
}

# --- each command's page ----------------------------------------------------
for cmd in "${commands[@]}"; do
	# shellcheck disable=SC2086
	run 0 "$cmd --help" "$SGXEMU" $cmd --help || continue
	page="help.${cmd// /_}"
	cp out "$page"
	missing=
	for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES; do
		grep -qx "$sec" "$page" || missing="$missing '$sec'"
	done
	if [ -z "$missing" ]; then ok "$cmd: --help has every section"; else bad "$cmd: --help lacks$missing"; fi
	has "$page" "^       sgxemu $cmd - " "$cmd: NAME says what it is"
	has "$page" "^       0      " "$cmd: EXIT STATUS says what 0 means"
	has "$page" "^       2      " "$cmd: EXIT STATUS says what 2 means"
	has "$page" "^ +sgxemu ${cmd%% *}" "$cmd: EXAMPLES has a command"
	parse_help "$page" >"$page.opts"
	declare -A listed=()
	while IFS=$'\t' read -r name arg def; do
		listed[$name]=1
		if [ "$arg" != - ] && [ "$def" = - ]; then
			bad "$cmd --$name $arg: --help states no default"
		fi
	done <"$page.opts"
	if [ "${#listed[@]}" -ge 2 ]; then
		ok "$cmd: --help describes ${#listed[@]} options"
	else
		bad "$cmd: --help describes ${#listed[@]} options"
	fi
	valued=$(awk -F'\t' '$2 != "-"' "$page.opts" | wc -l)
	stated=$(awk -F'\t' '$2 != "-" && $3 != "-"' "$page.opts" | wc -l)
	if [ "$valued" -eq "$stated" ]; then
		ok "$cmd: each of its $valued options with a value states a default"
	fi

	# The parser against the page, both ways.
	accepted=0 undescribed=0 refused=0
	for name in "${universe[@]}"; do
		# shellcheck disable=SC2086
		timeout 30 "$SGXEMU" $cmd "--$name=" </dev/null >probe.out 2>probe.err
		if grep -q "unknown option '--$name'" probe.err; then
			if [ -n "${listed[$name]:-}" ]; then
				refused=$((refused + 1))
				bad "$cmd: --help describes --$name, which the parser refuses"
			fi
			continue
		fi
		accepted=$((accepted + 1))
		[ -n "${listed[$name]:-}" ] && continue
		# getopt_long() takes an abbreviation of a longer name: the
		# message names the option it took.
		full=$(grep -oE -- "--$name[a-z0-9-]+" probe.err | head -1)
		if [ -n "$full" ] && [ -n "${listed[${full#--}]:-}" ]; then
			continue
		fi
		undescribed=$((undescribed + 1))
		bad "$cmd: the parser accepts --$name, which --help does not describe: $(head -1 probe.err)"
	done
	if [ "$undescribed" -eq 0 ] && [ "$refused" -eq 0 ]; then
		ok "$cmd: the $accepted option names its parser accepts are the ones --help describes"
	fi
	unset listed
done

# --- the defaults against behaviour -------------------------------------------
run 0 "keygen" "$SGXEMU" keygen -o key.pem
run 0 "sign" "$SGXEMU" sign --key key.pem -o base.sig "$SAMPLE"

# jsel FILE KEY...: those keys of the JSON object in FILE (a/b for nested).
jsel() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = d
    for part in k.split("/"):
        v = v[part]
    print(k, json.dumps(v))
' "$@"
}

# result CMD... : the part of the command's result a default must not
# change, on stdout; nonzero when the command failed.
result() {
	local cmd=$1
	shift
	case $cmd in
	measure) "$SGXEMU" measure --json "$@" "$SAMPLE" ;;
	show) "$SGXEMU" show --json "$@" "$SAMPLE" ;;
	sign)
		rm -f r.sig
		"$SGXEMU" sign --key key.pem -o r.sig "$@" "$SAMPLE" >/dev/null && od -An -tx1 r.sig
		;;
	sgxs)
		rm -f r.sgxs
		"$SGXEMU" sgxs -o r.sgxs "$@" "$SAMPLE" >/dev/null && od -An -tx1 r.sgxs
		;;
	check)
		"$SGXEMU" check --json "$@" "$SAMPLE" base.sig
		;;
	stat)
		"$SGXEMU" stat --json "$@" >r.json &&
			jsel r.json epc_mb epc_pages backing_limit_pct va_policy workload/enclaves \
				workload/pages_per_enclave workload/total_pages
		;;
	demo)
		"$SGXEMU" demo --json "$@" >r.json &&
			jsel r.json mrenclave mrsigner attributes xfrm size pages measured_pages einit
		;;
	*) return 99 ;;
	esac
}

for cmd in measure show sign sgxs check stat demo; do
	if ! result "$cmd" >base.res 2>base.err; then
		bad "$cmd: the run without options fails: $(head -1 base.err)"
		continue
	fi
	checked=0
	while IFS=$'\t' read -r name arg def; do
		[ "$arg" = - ] && continue
		# A default that is a value on its own: "4.", "0x4 (MODE64BIT...)".
		[[ "$def" =~ ^(0x[0-9a-f]+|[0-9]+[KMGT]?|today|kernel|writable)(\.|$|\ \() ]] || continue
		value=${BASH_REMATCH[1]}
		checked=$((checked + 1))
		if ! result "$cmd" "--$name" "$value" >opt.res 2>opt.err; then
			bad "$cmd --$name $value (the stated default) fails: $(head -1 opt.err)"
		elif cmp -s base.res opt.res; then
			ok "$cmd: --$name $value is the default"
		else
			bad "$cmd: --$name $value (the stated default) changes the result: $(diff base.res opt.res | head -4 | tr '\n' ' ')"
		fi
	done <"help.$cmd.opts"
	if [ "$checked" -gt 0 ]; then
		ok "$cmd: $checked stated defaults checked"
	else
		bad "$cmd: no stated default could be checked"
	fi
done

default_of() { awk -F'\t' -v n="$2" '$1 == n { print $3 }' "help.$1.opts"; }

# --max-memory: the sample is far below any limit, so the default is seen
# where it refuses: an ELF of 600 MiB (sparse) needs 1200 MiB to read and
# copy, and the refusal names the limit, the same with and without the
# stated default.
printf '\177ELF' >big.elf
truncate -s 600M big.elf
for cmd in measure show sign sgxs check; do
	d=$(default_of "$cmd" max-memory)
	value=${d%%[ .]*}
	case $cmd in
	sign) args=(--key key.pem -o big.sig big.elf) ;;
	sgxs) args=(-o big.sgxs big.elf) ;;
	check) args=(big.elf base.sig) ;;
	*) args=(big.elf) ;;
	esac
	"$SGXEMU" "$cmd" "${args[@]}" >/dev/null 2>a.err
	"$SGXEMU" "$cmd" --max-memory "$value" "${args[@]}" >/dev/null 2>b.err
	mib=$(python3 -c 'import sys; v = sys.argv[1]; u = "KMGT".find(v[-1]) + 1 if v[-1] in "KMGT" else 0; print(int(v.rstrip("KMGT")) << (10 * u) >> 20)' "$value")
	if grep -q "more than the limit of $mib MiB" a.err && cmp -s a.err b.err; then
		ok "$cmd: the memory limit is $value ($mib MiB) unless told otherwise"
	else
		bad "$cmd: without --max-memory: $(head -1 a.err); with --max-memory $value: $(head -1 b.err)"
	fi
done

# The date: today, UTC, as BCD.
run 0 "show the default-dated SIGSTRUCT" "$SGXEMU" show --json base.sig
has out "\"date\": \"0x$(date -u +%Y%m%d)\"" "sign: the date is today's (UTC) unless told otherwise"

# The defaults stated in words.
d=$(default_of sign xfrm-mask)
if [[ "$d" == "the --xfrm value"* ]]; then
	run 0 "sign --xfrm 0x7" "$SGXEMU" sign --key key.pem --xfrm 0x7 -o xfrm.sig "$SAMPLE"
	run 0 "show it" "$SGXEMU" show --json xfrm.sig
	has out '"xfrm_mask": "0x7"' "sign: the XFRM mask defaults to the --xfrm value"
else
	bad "sign --xfrm-mask: stated default '$d'"
fi

d=$(default_of check epc-mb)
if [[ "$d" == "enough for the image: its pages and the SECS, rounded up to a MiB"* ]]; then
	run 0 "check --json" "$SGXEMU" check --json "$SAMPLE" base.sig
	if python3 -c '
import json, sys
d = json.load(sys.stdin)
mib = 1 << 20
want = ((d["pages"] + 1) * 4096 + mib - 1) // mib * mib
assert d["epc_bytes"] == want, (d["epc_bytes"], want)
' <out; then
		ok "check: the EPC is the image's pages and the SECS, rounded up to a MiB"
	else
		bad "check: epc_bytes is not the stated default"
	fi
else
	bad "check --epc-mb: stated default '$d'"
fi

d=$(default_of stat pages)
if [[ "$d" =~ ^([0-9]+)\ times\ the\ EPC\'s\ pages\ divided\ among\ the\ enclaves ]]; then
	times=${BASH_REMATCH[1]}
	for n in 3 5; do
		run 0 "stat --enclaves $n" "$SGXEMU" stat --json --enclaves "$n"
		if python3 -c '
import json, sys
d = json.load(sys.stdin)
w = d["workload"]
want = int(sys.argv[1]) * d["epc_pages"] // w["enclaves"]
assert w["pages_per_enclave"] == want, (w["pages_per_enclave"], want)
' "$times" <out; then
			ok "stat --enclaves $n: pages per enclave are $times x the EPC / $n"
		else
			bad "stat --enclaves $n: pages per enclave are not the stated default"
		fi
	done
else
	bad "stat --pages: stated default '$d'"
fi

d=$(default_of demo enclave)
path=$(sed -nE 's/.*\((\/[^)]*)\).*/\1/p' <<<"$d")
if [ -n "$path" ] && [ -f "$path" ]; then
	result demo >a.res
	result demo --enclave "$path" >b.res
	if cmp -s a.res b.res; then
		ok "demo: --enclave $path is the default"
	else
		bad "demo: --enclave $path changes the identity"
	fi
else
	bad "demo --enclave: stated default '$d' names no file"
fi

# bench epc: the --quick sizes (the full ones take minutes).
iter=$(default_of "bench_epc" iterations | sed -nE 's/.*\(([0-9]+) with --quick\).*/\1/p')
pages=$(default_of "bench_epc" pages | sed -nE 's/.*\(([0-9]+) with --quick\).*/\1/p')
if [ -n "$iter" ] && [ -n "$pages" ]; then
	run 0 "bench epc --quick --json" "$SGXEMU" bench epc --quick --json
	has out "\"alloc_free_iterations\": $iter," "bench epc --quick: $iter iterations, as --help says"
	has out "\"paging_pages\": $pages," "bench epc --quick: $pages paging pages, as --help says"
else
	bad "bench epc: --help states no --quick sizes"
fi

# bench ecall: the round trips it makes unless told.
n=$(default_of "bench_ecall" iterations)
n=${n%%[ .]*}
if [[ "$n" =~ ^[0-9]+$ ]]; then
	run 0 "bench ecall --json" "$SGXEMU" bench ecall --json
	has out "\"iterations\": $n," "bench ecall: $n round trips, as --help says"
else
	bad "bench ecall: --help states no --iterations default"
fi

# --- sgxemu help COMMAND ---------------------------------------------------
for c in "${commands[@]}"; do
	# shellcheck disable=SC2086
	run 0 "help $c" "$SGXEMU" help $c
	cp out help_out
	# shellcheck disable=SC2086
	run 0 "$c --help" "$SGXEMU" $c --help
	if cmp -s out help_out; then
		ok "sgxemu help $c prints sgxemu $c --help"
	else
		bad "sgxemu help $c differs from sgxemu $c --help"
	fi
done
run 2 "help of an unknown command" "$SGXEMU" help nosuchcommand
run 2 "help with a surplus argument" "$SGXEMU" help bench epc more

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
