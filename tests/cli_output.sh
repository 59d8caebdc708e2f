#!/usr/bin/env bash
# cli_output.sh: no command of sgxemu destroys a file it was not asked to
# replace.
#
#   bash cli_output.sh SGXEMU_BIN SAMPLE_ELF
#
# For sign -o, demo --export-key and keygen -o: an existing output is
# refused without --force (and kept byte for byte), replaced with it; an
# output that is one of the inputs (the key, the image; by name, hard link
# or symbolic link) is refused even with --force; a FIFO, a directory and
# a device are refused at once, never opened; a write that fails part way
# leaves the old file as it was and no temporary file behind.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"

# unchanged FILE SUM NAME: FILE still has the sha256 SUM.
unchanged() {
	local now
	now=$(sha256sum <"$1" | cut -d' ' -f1)
	if [ "$now" = "$2" ]; then ok "$3"; else bad "$3: $1 changed"; fi
}
sum() { sha256sum <"$1" | cut -d' ' -f1; }
# no_temp NAME: the scratch directory holds no temporary output file.
no_temp() {
	local left
	left=$(find . -maxdepth 2 -name '.*.??????' | head -3)
	if [ -z "$left" ]; then ok "$1: no temporary file left"; else bad "$1: left $left"; fi
}

run 0 "keygen" "$SGXEMU" keygen -o key.pem
KEY=$(sum key.pem)
cp "$SAMPLE" image.elf
IMG=$(sum image.elf)

# --- an existing output ----------------------------------------------------
run 0 "sign to a new file" "$SGXEMU" sign --key key.pem --date 20260101 -o sig.bin image.elf
same_size=$(stat -c %s sig.bin)
[ "$same_size" = 1808 ] && ok "the new SIGSTRUCT is 1808 bytes" || bad "sig.bin is $same_size bytes"
printf 'precious' >precious.txt
P=$(sum precious.txt)
run 2 "sign over an existing file" "$SGXEMU" sign --key key.pem -o precious.txt image.elf
has err "precious.txt: already exists; not replacing it without --force" "the refusal names the file and --force"
unchanged precious.txt "$P" "the existing file is kept"
run 0 "sign --force over an existing file" "$SGXEMU" sign --force --key key.pem --date 20260101 -o precious.txt image.elf
if cmp -s precious.txt sig.bin; then ok "--force replaces it with the SIGSTRUCT"; else bad "--force did not write the SIGSTRUCT"; fi
# The replacement is a new file put in place by rename(): a hard link to
# the old one still sees the old bytes.
printf 'old' >old.bin
ln old.bin old-link.bin
run 0 "sign --force over a hard-linked file" "$SGXEMU" sign --force --key key.pem -o old.bin image.elf
same_old=$(cat old-link.bin)
[ "$same_old" = old ] && ok "the old file's other name keeps the old bytes" || bad "old-link.bin is '$same_old'"
run 0 "demo --export-key to a new file" "$SGXEMU" demo --export-key demo.pem
mode=$(stat -c %a demo.pem)
[ "$mode" = 600 ] && ok "the exported key is mode 0600" || bad "demo.pem mode $mode"
run 2 "demo --export-key over an existing file" "$SGXEMU" demo --export-key precious.txt
has err "already exists; not replacing it without --force" "export-key refuses an existing file"
run 2 "demo --export-key over the signing key" "$SGXEMU" demo --export-key key.pem
unchanged key.pem "$KEY" "the signing key survives export-key"
run 0 "demo --export-key --force" "$SGXEMU" demo --export-key precious.txt --force
if cmp -s precious.txt demo.pem; then ok "--force writes the demo key"; else bad "export-key --force wrote something else"; fi
run 2 "demo --force without --export-key" "$SGXEMU" demo --force
has err "--force applies only to --export-key" "a stray --force is named"
run 2 "demo --export-key with another option" "$SGXEMU" demo --export-key new.pem --heap 3
has err "--export-key takes no other option \(got '--heap'\)" "the other option is named"
[ ! -e new.pem ] && ok "nothing written for a refused export" || bad "new.pem written"
run 2 "keygen over an existing file" "$SGXEMU" keygen -o precious.txt
has err "already exists" "keygen refuses an existing file"
run 2 "keygen --force is no option" "$SGXEMU" keygen --force -o precious.txt

# --- an output that is an input -------------------------------------------
run 2 "sign -o the key, --force" "$SGXEMU" sign --force --key key.pem -o key.pem image.elf
has err "key.pem: is the input key.pem; not writing over an input" "the key as output is named"
unchanged key.pem "$KEY" "the key is kept"
run 2 "sign -o the image, --force" "$SGXEMU" sign --force --key key.pem -o image.elf image.elf
has err "is the input image.elf" "the image as output is named"
unchanged image.elf "$IMG" "the image is kept"
ln key.pem key-hard.pem
run 2 "sign -o a hard link to the key, --force" "$SGXEMU" sign --force --key key.pem -o key-hard.pem image.elf
has err "is the input key.pem" "the same inode under another name is seen"
unchanged key.pem "$KEY" "the key is kept (hard link)"
ln -s image.elf image-sym.elf
run 2 "sign -o a symlink to the image, --force" "$SGXEMU" sign --force --key key.pem -o image-sym.elf image.elf
unchanged image.elf "$IMG" "the image is kept (symbolic link)"
mkdir sub
run 2 "sign -o the key by another path, --force" "$SGXEMU" sign --force --key key.pem -o sub/../key.pem image.elf
unchanged key.pem "$KEY" "the key is kept (another path)"

# --- outputs that are not regular files ------------------------------------
mkfifo fifo
for t in "sign|sign --key key.pem -o fifo image.elf" \
	"sign --force|sign --force --key key.pem -o fifo image.elf" \
	"demo --export-key|demo --export-key fifo" \
	"demo --export-key --force|demo --export-key fifo --force" \
	"keygen|keygen -o fifo"; do
	name=${t%%|*}
	# shellcheck disable=SC2086
	run 2 "$name to a FIFO (refused, not waited on)" timeout 10 "$SGXEMU" ${t#*|}
	has err "fifo: a FIFO; the output must be a regular file" "$name: the FIFO is named"
done
[ -p fifo ] && ok "the FIFO is still a FIFO" || bad "the FIFO was replaced"
run 2 "sign -o a directory" "$SGXEMU" sign --force --key key.pem -o sub image.elf
has err "sub: a directory; the output must be a regular file" "a directory is named"
run 2 "sign -o dir/ (no file name)" "$SGXEMU" sign --key key.pem -o nodir/ image.elf
has err "not a file name" "a trailing slash is named"
run 2 "sign -o /dev/null" "$SGXEMU" sign --force --key key.pem -o /dev/null image.elf
has err "/dev/null: a character device" "a device is named"
[ -c /dev/null ] && ok "/dev/null is still a device" || bad "/dev/null was replaced"
ln -s fifo fifo-link
run 2 "sign -o a symlink to a FIFO" timeout 10 "$SGXEMU" sign --force --key key.pem -o fifo-link image.elf
has err "a FIFO" "a link to a FIFO is judged by the FIFO"
run 2 "sign -o in a missing directory" "$SGXEMU" sign --key key.pem -o nodir/sig.bin image.elf
has err "nodir/sig.bin: cannot create a temporary file beside it: No such file or directory" \
	"a missing directory is named"
no_temp "after the refusals"

# --- a write that fails part way -------------------------------------------
# RLIMIT_FSIZE of 1 KiB: the 1808-byte SIGSTRUCT's write fails with EFBIG
# (SIGXFSZ ignored, as the child inherits).
printf 'keep me' >keep.bin
K=$(sum keep.bin)
(
	trap '' XFSZ
	ulimit -f 1
	exec "$SGXEMU" sign --force --key key.pem -o keep.bin image.elf
) >out 2>err
rc=$?
[ "$rc" -eq 2 ] && ok "a write past the file size limit fails (exit 2)" || bad "write past RLIMIT_FSIZE: exit $rc, want 2"
has err "keep.bin: cannot write: File too large" "the write failure is named"
unchanged keep.bin "$K" "a failed write leaves the old file as it was"
(
	trap '' XFSZ
	ulimit -f 1
	exec "$SGXEMU" sign --key key.pem -o fresh.bin image.elf
) >out 2>err
[ ! -e fresh.bin ] && ok "a failed write leaves no output" || bad "fresh.bin left by a failed write"
no_temp "after failed writes"
(umask 077 && "$SGXEMU" sign --key key.pem -o masked.bin image.elf >out 2>err)
mode=$(stat -c %a masked.bin)
[ "$mode" = 600 ] && ok "the SIGSTRUCT's mode follows the umask" || bad "masked.bin mode $mode under umask 077"
(umask 022 && "$SGXEMU" sign --key key.pem -o open.bin image.elf >out 2>err)
mode=$(stat -c %a open.bin)
[ "$mode" = 644 ] && ok "a SIGSTRUCT is mode 0644 under umask 022" || bad "open.bin mode $mode"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
