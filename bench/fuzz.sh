#!/usr/bin/env bash
# Fuzzes the publish body parser, the tarball reader, the Cargo.toml reader and the index line parser with AFL++
# (Debian's afl++) and SharpFuzz, for a fixed time per target, and prints run time, executions and finds per target.
#
#   bench/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default 180 s, all four targets
#
# Installs afl++ (apt-get) and the SharpFuzz.CommandLine tool (into bench/out/tools) when missing. Works in
# bench/out/fuzz (git-ignored): bin/ (the instrumented build), seeds/<target>, findings/<target>. Finds (crashes and
# hangs) are replayed uninstrumented and copied to bench/out/fuzz/finds/<target>/; a crashing publish body belongs in
# the corpus (tests/corpus/publish with its expected status, tests/corpus/index-lines) once fixed. Exits 1 when any target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-180}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(publish-body tarball manifest index-line)
OUT=bench/out/fuzz
TOOLS=bench/out/tools
SHARPFUZZ_VERSION=2.3.0

if ! command -v afl-fuzz >/dev/null; then
  apt-get update -qq && apt-get install -y -qq afl++ >/dev/null
fi
if [ ! -x "$TOOLS/sharpfuzz" ]; then
  dotnet tool install SharpFuzz.CommandLine --version "$SHARPFUZZ_VERSION" --tool-path "$TOOLS" >/dev/null
fi

rm -rf "$OUT/bin" "$OUT/replay"
dotnet publish bench/OrleansCrates.Fuzz -c Release -o "$OUT/bin" -v quiet -nologo >/dev/null
cp -r "$OUT/bin" "$OUT/replay"   # uninstrumented: instrumented code cannot run outside afl-fuzz
for dll in OrleansCrates.Registry.dll OrleansCrates.Protocol.dll; do
  "$TOOLS/sharpfuzz" "$OUT/bin/$dll" >/dev/null
done

# Seeds: the corpus's publish bodies (small ones), their tarballs unpacked from gzip, a few manifests and index lines.
python3 - "$OUT/seeds" <<'PY'
import glob, gzip, os, struct, sys, zlib
out = sys.argv[1]
for t in ("publish-body", "tarball", "manifest", "index-line"):
    os.makedirs(os.path.join(out, t), exist_ok=True)
for path in sorted(glob.glob("tests/corpus/publish/*.body")):
    data = open(path, "rb").read()
    name = os.path.basename(path)[:-5]
    if len(data) <= 16384:
        open(os.path.join(out, "publish-body", name), "wb").write(data)
    try:
        n = struct.unpack("<I", data[:4])[0]
        crate = data[8 + n:]
        tar = zlib.decompressobj(31).decompress(crate, 65536)
        if 0 < len(tar) <= 16384:
            open(os.path.join(out, "tarball", name), "wb").write(tar)
    except Exception:
        pass
manifests = {
    "plain": '[package]\nname = "fuzz"\nversion = "1.0.0"\nedition = "2021"\n',
    "strings": "[package]\nname = 'fuzz'\nversion = \"\"\"1.0.0\"\"\"\ndescription = '''multi\nline'''\n[dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\n",
    "tables": '[package.metadata.x]\na = [1, 2.5, true, 1979-05-27T07:32:00Z]\n[[bin]]\nname = "b"\n[project]\nname = "fuzz"\nversion = "1.0.0"\n',
}
for k, v in manifests.items():
    open(os.path.join(out, "manifest", k), "w").write(v)
lines = {
    "one": '{"name":"fuzz","vers":"1.0.0","deps":[],"cksum":"' + "a" * 64 + '","features":{},"yanked":false}\n',
    "two": '{"name":"fuzz","vers":"1.0.0","deps":[{"name":"x","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"}],"cksum":"' + "b" * 64 + '","features":{"a":["x/b"]},"yanked":true,"v":2,"features2":{"c":["dep:x"]}}\n{"name":"fuzz","vers":"1.0.1+meta","cksum":"' + "c" * 64 + '"}\n',
}
for k, v in lines.items():
    open(os.path.join(out, "index-line", k), "w").write(v)
PY

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
crashed=0
summary=()
for target in "${TARGETS[@]}"; do
  findings="$OUT/findings/$target"
  rm -rf "$findings"; mkdir -p "$OUT/findings"
  echo "fuzzing $target for ${SECONDS_PER_TARGET}s ..." >&2
  afl-fuzz -i "$OUT/seeds/$target" -o "$findings" -t 5000 -m none -V "$SECONDS_PER_TARGET" \
    -- "$(command -v dotnet)" "$OUT/bin/OrleansCrates.Fuzz.dll" "$target" > "$OUT/afl-$target.log" 2>&1 || true
  stats="$findings/default/fuzzer_stats"
  if [ ! -f "$stats" ]; then
    echo "afl-fuzz did not start for $target; see $OUT/afl-$target.log" >&2
    tail -20 "$OUT/afl-$target.log" >&2
    crashed=1
    continue
  fi
  stat() { awk -F': *' -v k="$1" '$1 ~ "^"k" *$" {print $2}' "$stats"; }
  crashes=$(stat saved_crashes); hangs=$(stat saved_hangs)
  mkdir -p "$OUT/finds/$target"
  for f in "$findings"/default/crashes/id:* "$findings"/default/hangs/id:*; do
    [ -f "$f" ] || continue
    cp "$f" "$OUT/finds/$target/"
    dotnet "$OUT/replay/OrleansCrates.Fuzz.dll" "$target" --replay "$f" >/dev/null 2>"$OUT/finds/$target/$(basename "$f").txt" || crashed=1
  done
  [ "${crashes:-0}" != "0" ] && crashed=1
  summary+=("$(printf '%-13s run %6ss  execs %9s  (%s/s)  paths %5s  crashes %s  hangs %s' "$target" "$(stat run_time)" \
    "$(stat execs_done)" "$(stat execs_per_sec)" "$(stat corpus_count)" "${crashes:-?}" "${hangs:-?}")")
done
printf '%s\n' "${summary[@]}"
exit $crashed
