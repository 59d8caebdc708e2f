# cli_lib.bash: what the cli_*.sh tests share: their two arguments, a
# scratch directory they run in, and the PASS/FAIL helpers.  Sourced, not
# run (CMake runs only cli_*.sh):
#
#   . "$(dirname "$0")/cli_lib.bash" "$@"
#
# It checks the arguments (SGXEMU_BIN SAMPLE_ELF), sets SGXEMU and SAMPLE
# to their absolute paths, makes a scratch directory $tmp, removed on exit,
# and enters it.  The counters pass and fail start at 0; a test ends with
#   echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]

if [ $# -ne 2 ]; then
	echo "usage: bash $(basename "$0") SGXEMU_BIN SAMPLE_ELF" >&2
	exit 2
fi
SGXEMU=$(realpath "$1")
SAMPLE=$(realpath "$2")
if [ ! -x "$SGXEMU" ] || [ ! -f "$SAMPLE" ]; then
	echo "$(basename "$0"): no executable $1 or no file $2" >&2
	exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 2

pass=0
fail=0
ok() {
	pass=$((pass + 1))
	echo "PASS $1"
}
bad() {
	fail=$((fail + 1))
	echo "FAIL $1"
	[ -s out ] && sed 's/^/    stdout: /' out | head -30
	[ -s err ] && sed 's/^/    stderr: /' err | head -20
}

# run WANT_RC NAME CMD...: runs CMD (stdout to ./out, stderr to ./err) and
# checks its exit status.
run() {
	local want=$1 name=$2 rc
	shift 2
	"$@" >out 2>err
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		ok "$name (exit $rc)"
		return 0
	fi
	bad "$name: exit $rc, want $want: $*"
	return 1
}

# has FILE PATTERN NAME: FILE contains the extended regex PATTERN.
has() {
	if grep -Eq -- "$2" "$1"; then
		ok "$3"
	else
		bad "$3: $1 lacks /$2/"
	fi
}
