#!/usr/bin/env bash
# cli_inspect.sh: looking inside an image: show IMAGE lists the pages the
# build adds (offset, type, permissions, measured, content digest), with
# --summary for ranges; sgxs IMAGE -o OUT writes its SGXS stream.
#
#   bash cli_inspect.sh SGXEMU_BIN SAMPLE_ELF
#
# The listing is checked against the ELF read independently (Python): the
# pages' offsets, types, permissions and SHA-256 of their bytes; the SGXS
# stream measures as the image does, lists the same pages, and (with the
# oracle, shared/oracle/sgxref.py or $SGXREF) is the oracle's stream byte
# for byte.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cli_lib.bash" "$@"
ORACLE=${SGXREF:-$HERE/../../shared/oracle/sgxref.py}

same() { if [ "$1" = "$2" ]; then ok "$3"; else bad "$3: '$1' != '$2'"; fi; }

run 0 "measure" "$SGXEMU" measure --json --heap 3 "$SAMPLE"
MR=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["mrenclave"])' <out)
PAGES=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["pages"])' <out)

run 0 "show IMAGE" "$SGXEMU" show --heap 3 "$SAMPLE"
has out "^0x0 +TCS +--- +yes +[0-9a-f]{64}$" "the first page is a measured TCS page"
same "$(grep -c '^0x' out)" "$PAGES" "one line per page"
has out " REG +rw- +no +[0-9a-f]{64}$" "heap pages are unmeasured"
run 0 "show --json IMAGE" "$SGXEMU" show --json --heap 3 "$SAMPLE"
cp out pages.json
if python3 - "$SAMPLE" <<'EOF'
import hashlib, json, struct, sys
elf = open(sys.argv[1], "rb").read()
phoff, = struct.unpack_from("<Q", elf, 32)
phnum, = struct.unpack_from("<H", elf, 56)
loads = [p for p in (struct.unpack_from("<IIQQQQQQ", elf, phoff + 56 * i) for i in range(phnum)) if p[0] == 1]
want = []
for i, (_, flags, off, vaddr, _, filesz, memsz, _) in enumerate(loads):
    data = elf[off:off + filesz]
    perm = ("r" if flags & 4 else "-") + ("w" if flags & 2 else "-") + ("x" if flags & 1 else "-")
    for p in range((memsz + 4095) // 4096):
        chunk = data[p * 4096:(p + 1) * 4096]
        want.append((vaddr + p * 4096, "TCS" if i == 0 else "REG", "---" if i == 0 else perm, "yes",
                     hashlib.sha256(chunk + bytes(4096 - len(chunk))).hexdigest()))
    end = vaddr + (memsz + 4095) // 4096 * 4096
for h in range(3):
    want.append((end + h * 4096, "REG", "rw-", "no", hashlib.sha256(bytes(4096)).hexdigest()))
got = [(int(p["offset"], 16), p["type"], p["perm"], p["measured"], p["sha256"])
       for p in json.load(open("pages.json"))["pages"]]
if got != want:
    for g, w in zip(got, want):
        if g != w:
            print("    got", g, "want", w)
    sys.exit(1)
EOF
then
	ok "every page's offset, type, permissions, measurement and digest agree with the ELF"
else
	bad "show --json IMAGE disagrees with the ELF"
fi

run 0 "show --summary" "$SGXEMU" show --summary --heap 3 "$SAMPLE"
has out "^0x00000000-0x[0-9a-f]{8} +[0-9]+ TCS +--- +yes +data$" "the TCS range comes first"
has out " 3 REG +rw- +no +zero$" "the heap is one unmeasured zero range"
run 0 "show --summary --json" "$SGXEMU" show --summary --json --heap 3 "$SAMPLE"
same "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(r["pages"] for r in d["ranges"]), d["pages"])' <out)" \
	"$PAGES $PAGES" "the ranges cover every page"

# --- sgxs -------------------------------------------------------------------
run 0 "sgxs" "$SGXEMU" sgxs --heap 3 -o sample.sgxs "$SAMPLE"
has out "^MRENCLAVE $MR$" "sgxs prints the image's MRENCLAVE"
run 0 "measure of the stream" "$SGXEMU" measure sample.sgxs
same "$(cat out)" "$MR" "the stream measures as the image"
run 0 "show --json of the stream" "$SGXEMU" show --json sample.sgxs
if python3 -c '
import json, sys
a = json.load(open("pages.json"))["pages"]
b = json.load(sys.stdin)["pages"]
sys.exit(0 if a == b else 1)' <out; then
	ok "the stream lists the image's pages"
else
	bad "the stream's pages differ from the image's"
fi
run 0 "sgxs of the stream" "$SGXEMU" sgxs -o again.sgxs sample.sgxs
if cmp -s sample.sgxs again.sgxs; then ok "a stream written again is the same bytes"; else bad "again.sgxs differs"; fi
run 2 "sgxs over an existing file" "$SGXEMU" sgxs -o sample.sgxs "$SAMPLE"
has err "already exists; not replacing it without --force" "sgxs never clobbers"
run 0 "sgxs --force" "$SGXEMU" sgxs --force -o sample.sgxs --heap 3 "$SAMPLE"
run 2 "sgxs -o the image" "$SGXEMU" sgxs --force -o sample.sgxs sample.sgxs
has err "is the input sample.sgxs" "sgxs never writes over its input"
run 2 "sgxs without -o" "$SGXEMU" sgxs "$SAMPLE"
has err "no output file" "the missing output is named"
run 0 "sgxs --help" "$SGXEMU" sgxs --help
has out "^       sgxemu sgxs( |$)" "sgxs --help shows usage"

run 0 "keygen" "$SGXEMU" keygen -o key.pem
run 0 "sign" "$SGXEMU" sign --key key.pem -o sig.bin "$SAMPLE"
run 2 "show --summary of a SIGSTRUCT" "$SGXEMU" show --summary sig.bin
has err "--summary applies to an IMAGE" "--summary of a SIGSTRUCT is refused"

if [ -f "$ORACLE" ]; then
	python3 - "$SAMPLE" <<'EOF'
import json, struct, sys
elf = open(sys.argv[1], "rb").read()
phoff, = struct.unpack_from("<Q", elf, 32)
phnum, = struct.unpack_from("<H", elf, 56)
loads = [p for p in (struct.unpack_from("<IIQQQQQQ", elf, phoff + 56 * i) for i in range(phnum)) if p[0] == 1]
pages, blob = [], bytearray()
for i, (_, flags, off, vaddr, _, filesz, memsz, _) in enumerate(loads):
    data = elf[off:off + filesz]
    perm = (1 if flags & 4 else 0) | (2 if flags & 2 else 0) | (4 if flags & 1 else 0)
    for p in range((memsz + 4095) // 4096):
        chunk = data[p * 4096:(p + 1) * 4096]
        pages.append({"offset": vaddr + p * 4096, "flags": hex(0x100 if i == 0 else 0x200 | perm),
                      "measure": True, "src": len(blob)})
        blob += chunk + bytes(4096 - len(chunk))
    end = vaddr + (memsz + 4095) // 4096 * 4096
for h in range(3):
    pages.append({"offset": end + h * 4096, "flags": "0x203", "measure": False})
size = 8192
while size < end + 3 * 4096:
    size *= 2
open("blob.bin", "wb").write(blob)
json.dump({"size": size, "ssaframesize": 1, "blob": "blob.bin", "pages": pages}, open("layout.json", "w"))
EOF
	python3 "$ORACLE" sgxs layout.json oracle.sgxs
	if cmp -s oracle.sgxs sample.sgxs; then
		ok "the stream is the oracle's byte for byte"
	else
		bad "the stream differs from the oracle's: $(cmp oracle.sgxs sample.sgxs | head -1)"
	fi
else
	echo "SKIP oracle stream: $ORACLE not found"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
