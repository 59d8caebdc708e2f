#!/usr/bin/env bash
# cli_pipes.sh: inputs from pipes: `-` (standard input) and /dev/fd/N are
# read to memory, one input at a time, within the bounds a file has.
#
#   bash cli_pipes.sh SGXEMU_BIN SAMPLE_ELF
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"

same() { if [ "$1" = "$2" ]; then ok "$3"; else bad "$3: '$1' != '$2'"; fi; }
# piped NAME WANT_RC INPUT CMD...: CMD with INPUT on standard input.
piped() {
	local name=$1 want=$2 input=$3 rc
	shift 3
	"$@" <"$input" >out 2>err
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$name (exit $rc)"; else bad "$name: exit $rc, want $want: $*"; fi
}

run 0 "measure" "$SGXEMU" measure "$SAMPLE"
MR=$(cat out)
run 0 "keygen" "$SGXEMU" keygen -o key.pem
run 0 "sign" "$SGXEMU" sign --key key.pem -o sig.bin "$SAMPLE"

cat "$SAMPLE" | "$SGXEMU" measure - >out 2>err
same "$(cat out)" "$MR" "measure - reads the image from a pipe"
"$SGXEMU" measure /dev/fd/3 3< <(cat "$SAMPLE") >out 2>err
same "$(cat out)" "$MR" "measure /dev/fd/3 reads an inherited pipe"
"$SGXEMU" measure --heap 2 - < <(cat "$SAMPLE") >out 2>err
"$SGXEMU" measure --heap 2 "$SAMPLE" >want 2>err
same "$(cat out)" "$(cat want)" "image options apply to a piped ELF"
"$SGXEMU" sgxs -o s.sgxs "$SAMPLE" >/dev/null 2>&1
cat s.sgxs | "$SGXEMU" measure - >out 2>err
same "$(cat out)" "$MR" "an SGXS stream from a pipe"
cat s.sgxs | "$SGXEMU" measure --heap 1 - >out 2>err
rc=$?
same "$rc" 2 "--heap on a piped SGXS stream is refused"
has err "applies to ELF images" "the refusal says why"

cat sig.bin | "$SGXEMU" show - >out 2>err
has out "^signature: ok$" "show - reads a SIGSTRUCT from a pipe"
cat sig.bin | "$SGXEMU" check "$SAMPLE" - >out 2>err
has out "^EINIT: ok$" "check IMAGE - takes the SIGSTRUCT from a pipe"
cat "$SAMPLE" | "$SGXEMU" check - sig.bin >out 2>err
has out "^EINIT: ok$" "check - SIGSTRUCT takes the image from a pipe"
cat "$SAMPLE" | "$SGXEMU" sign --key key.pem -o piped.bin - >out 2>err
if cmp -s piped.bin sig.bin; then ok "sign - signs a piped image as the file"; else bad "piped.bin differs from sig.bin"; fi
"$SGXEMU" sign --gendata -o data.bin "$SAMPLE" >/dev/null 2>&1
openssl dgst -sha256 -sign key.pem -out sig.raw data.bin
openssl pkey -in key.pem -pubout -out pub.pem 2>/dev/null
cat sig.raw | "$SGXEMU" sign --signature - --public-key pub.pem -o two.bin "$SAMPLE" >out 2>err
if cmp -s two.bin sig.bin; then ok "--signature - takes the signature from a pipe"; else bad "two.bin differs"; fi

# One input at a time.
piped "check - -" 2 sig.bin "$SGXEMU" check - -
has err "one input at a time from a pipe" "two streams are refused"
piped "sign --signature - -" 2 sig.raw "$SGXEMU" sign --signature - --public-key pub.pem -o x.bin -
has err "one input at a time" "sign with two streams is refused"

# The bounds of a file hold for a pipe.
head -c $((2 << 20)) /dev/zero | "$SGXEMU" show - >out 2>err
same "$?" 2 "a 2 MiB SIGSTRUCT from a pipe is refused"
has err "not a SIGSTRUCT \(larger than 1 MiB" "its size is named"
head -c 1000 sig.bin | "$SGXEMU" show - >out 2>err
has err "-: not a SIGSTRUCT: 1000 bytes" "a short piped SIGSTRUCT is named"
head -c $((3 << 20)) /dev/zero | "$SGXEMU" measure --max-memory 2M - >out 2>err
same "$?" 2 "a piped image past the memory limit is refused"
has err "more than 1 MiB from the stream" "the bound is named"
"$SGXEMU" measure - </dev/null >out 2>err
same "$?" 2 "an empty stream is refused"
has err "-: not an ELF enclave or SGXS stream" "and named"
printf 'not an image' | "$SGXEMU" measure - >out 2>err
has err "not an ELF enclave or SGXS stream" "junk from a pipe is named"
run 2 "measure /dev/fd/9 (not open)" "$SGXEMU" measure /dev/fd/9
has err "/dev/fd/9: No such file or directory" "a descriptor that is not open is named"
[ ! -e x.bin ] && ok "no refusal wrote x.bin" || bad "x.bin written"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
