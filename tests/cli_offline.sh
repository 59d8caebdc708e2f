#!/usr/bin/env bash
# cli_offline.sh: signing with a key held elsewhere, and signing a bare
# MRENCLAVE, give the bytes one-step signing gives.
#
#   bash cli_offline.sh SGXEMU_BIN SAMPLE_ELF
#
# sign --gendata writes the 256 signed bytes; `openssl dgst -sha256 -sign`
# signs them in the middle; sign --signature --public-key assembles the
# SIGSTRUCT, byte for byte the one `sign --key` makes with the same fields.
# --mrenclave HEX stands for the image in both flows.  A signature of other
# bytes or by another key is refused before anything is written.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"

same_file() { if cmp -s "$1" "$2"; then ok "$3"; else bad "$3: $1 and $2 differ"; fi; }

run 0 "keygen" "$SGXEMU" keygen -o key.pem
run 0 "keygen (another key)" "$SGXEMU" keygen -o other.pem
openssl pkey -in key.pem -pubout -out pub.pem 2>/dev/null
openssl pkey -in other.pem -pubout -out otherpub.pem 2>/dev/null
F=(--date 20260315 --isvprodid 7 --isvsvn 2 --debug --isvextprodid 00112233445566778899aabbccddeeff)

run 0 "one-step sign" "$SGXEMU" sign --key key.pem "${F[@]}" -o one.bin "$SAMPLE"
run 0 "sign --gendata" "$SGXEMU" sign --gendata "${F[@]}" -o data.bin "$SAMPLE"
[ "$(stat -c %s data.bin)" = 256 ] && ok "the data to sign is 256 bytes" || bad "data.bin is $(stat -c %s data.bin) bytes"
{ head -c 128 one.bin; tail -c +901 one.bin | head -c 128; } >want.bin
same_file data.bin want.bin "the data is SIGSTRUCT bytes 0..127 and 900..1027"
openssl dgst -sha256 -sign key.pem -out sig.raw data.bin
run 0 "sign --signature --public-key" "$SGXEMU" sign --signature sig.raw --public-key pub.pem \
	"${F[@]}" -o two.bin "$SAMPLE"
same_file two.bin one.bin "two-step signing gives the one-step SIGSTRUCT byte for byte"
run 0 "show of the assembled SIGSTRUCT" "$SGXEMU" show two.bin
has out "^signature: ok$" "the assembled SIGSTRUCT verifies"
run 0 "check of the assembled SIGSTRUCT" "$SGXEMU" check "$SAMPLE" two.bin
has out "^EINIT: ok$" "EINIT accepts it"
run 0 "--public-key may be the private key's PEM" "$SGXEMU" sign --signature sig.raw \
	--public-key key.pem "${F[@]}" -o two-priv.bin "$SAMPLE"
same_file two-priv.bin one.bin "the public half of a private key serves"

# --- a bare MRENCLAVE -------------------------------------------------------
MR=$("$SGXEMU" measure "$SAMPLE")
run 0 "sign --mrenclave" "$SGXEMU" sign --key key.pem "${F[@]}" --mrenclave "$MR" -o three.bin
same_file three.bin one.bin "signing the MRENCLAVE gives the image's SIGSTRUCT"
run 0 "sign --gendata --mrenclave" "$SGXEMU" sign --gendata "${F[@]}" --mrenclave "$MR" -o data2.bin
same_file data2.bin data.bin "the data to sign from the MRENCLAVE alone"
run 0 "sign --signature --mrenclave --json" "$SGXEMU" sign --json --signature sig.raw --public-key pub.pem \
	"${F[@]}" --mrenclave "$MR" -o four.bin
same_file four.bin one.bin "the two-step flow with --mrenclave"
if python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["mrenclave"] == sys.argv[1] and d["image"] is None' "$MR" <out; then
	ok "sign --json names the MRENCLAVE, no image"
else
	bad "sign --json --mrenclave output"
fi

# --- refusals ----------------------------------------------------------------
openssl dgst -sha256 -sign other.pem -out othersig.raw data.bin
run 1 "a signature by another key" "$SGXEMU" sign --signature othersig.raw --public-key pub.pem \
	"${F[@]}" -o bad1.bin "$SAMPLE"
has err "othersig.raw does not verify over these fields and MRENCLAVE with pub.pem; nothing written" \
	"a foreign signature is named"
[ ! -e bad1.bin ] && ok "nothing written for it" || bad "bad1.bin written"
run 1 "the signature with other fields" "$SGXEMU" sign --signature sig.raw --public-key pub.pem \
	--date 20260316 -o bad2.bin "$SAMPLE"
run 1 "the signature with another key's public half" "$SGXEMU" sign --signature othersig.raw \
	--public-key otherpub.pem --date 20260315 --isvprodid 7 --isvsvn 3 --debug -o bad3.bin "$SAMPLE"
head -c 383 sig.raw >short.raw
run 2 "a signature of 383 bytes" "$SGXEMU" sign --signature short.raw --public-key pub.pem "${F[@]}" -o x.bin "$SAMPLE"
has err "short.raw: 383 bytes; an RSA-3072 signature is 384" "the signature's size is named"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 -out k2048.pem 2>/dev/null
run 2 "a 2048-bit public key" "$SGXEMU" sign --signature sig.raw --public-key k2048.pem "${F[@]}" -o x.bin "$SAMPLE"
has err "k2048.pem: a RSA key of 2048 bits; enclave keys are RSA-3072 with exponent 3" "the key size is named"
printf junk >junk.pem
run 2 "a public key that is no key" "$SGXEMU" sign --signature sig.raw --public-key junk.pem -o x.bin "$SAMPLE"
has err "junk.pem: not a PEM public key" "junk is named"
run 2 "--signature without --public-key" "$SGXEMU" sign --signature sig.raw -o x.bin "$SAMPLE"
has err "--signature needs --public-key" "the missing half is named"
run 2 "--public-key without --signature" "$SGXEMU" sign --public-key pub.pem -o x.bin "$SAMPLE"
run 2 "--gendata with --key" "$SGXEMU" sign --gendata --key key.pem -o x.bin "$SAMPLE"
has err "--gendata writes the data to sign: it takes no --key" "--gendata with a key is refused"
run 2 "--key with --signature" "$SGXEMU" sign --key key.pem --signature sig.raw --public-key pub.pem -o x.bin "$SAMPLE"
run 2 "--mrenclave and an IMAGE" "$SGXEMU" sign --key key.pem --mrenclave "$MR" -o x.bin "$SAMPLE"
has err "--mrenclave takes the place of IMAGE" "both inputs are refused"
run 2 "--mrenclave with --heap" "$SGXEMU" sign --key key.pem --mrenclave "$MR" --heap 2 -o x.bin
has err "--heap applies to an IMAGE, not to --mrenclave" "--heap with --mrenclave is refused"
run 2 "--mrenclave of 63 digits" "$SGXEMU" sign --key key.pem --mrenclave "${MR:1}" -o x.bin
run 2 "--mrenclave of non-hex" "$SGXEMU" sign --key key.pem --mrenclave "zz${MR:2}" -o x.bin
run 2 "sign -o the signature, --force" "$SGXEMU" sign --force --signature sig.raw --public-key pub.pem "${F[@]}" -o sig.raw "$SAMPLE"
has err "is the input sig.raw" "the signature file is an input"
[ ! -e x.bin ] && ok "no refusal wrote x.bin" || bad "x.bin written"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
