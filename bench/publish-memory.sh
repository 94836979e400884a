#!/usr/bin/env bash
# Peak memory of a real server during the worst publishes we can construct: prints VmHWM (peak resident set) of the
# server process after start-up and a warm-up publish, then after each hostile publish. Every body is sent with a
# valid publish token; all must be refused.
#
#   bench/publish-memory.sh            builds the server (Release) and runs on 127.0.0.1 with a throw-away store
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/publish-memory
rm -rf "$OUT"; mkdir -p "$OUT"
dotnet build src/OrleansCrates.Server -c Release -v quiet -nologo >/dev/null
DLL=src/OrleansCrates.Server/bin/Release/net10.0/OrleansCrates.Server.dll
export Storage__FileSystem__Root="$PWD/$OUT/store" Registry__Private__SpoolPath="$PWD/$OUT/spool"
TOKEN=$(dotnet "$DLL" token create --user alice --scope publish)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
Mirror__Upstreams__0__IndexUrl=http://127.0.0.1:9/index/ Mirror__UserAgentContact=bench@orleanscrates.invalid \
  dotnet "$DLL" --urls "http://127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
python3 - "$PORT" "$TOKEN" "$SERVER" <<'PY'
import gzip, http.client, io, json, os, struct, sys, time
port, token, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path.insert(0, "tests/corpus/publish")

def hwm():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(("VmHWM", "VmRSS")):
            yield line.split()[0][:-1], int(line.split()[1]) // 1024

def publish(body):
    for _ in range(200):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            c.request("PUT", "/private/api/v1/crates/new", body=body, headers={"Authorization": token})
            r = c.getresponse(); detail = r.read()[:150]
            return r.status, detail
        except ConnectionRefusedError:
            time.sleep(0.1)   # the server is still starting
    raise SystemExit("server did not start")

def header(name, size, flag=b"0"):
    h = bytearray(512); h[0:len(name)] = name[:100]; h[100:108] = b"0000644\0"; h[108:124] = b"0000000\0" * 2
    h[124:136] = b"%011o\0" % size; h[136:148] = b"00000000000\0"; h[156:157] = flag; h[257:265] = b"ustar  \0"
    h[148:156] = b" " * 8; h[148:156] = b"%06o\0 " % sum(h); return bytes(h)

def pad(b): return b + b"\0" * ((512 - len(b) % 512) % 512)
def body(meta, crate): return struct.pack("<I", len(meta)) + meta + struct.pack("<I", len(crate)) + crate
def meta(**kw):
    d = {"name": "memory", "vers": "1.0.0", "deps": [], "features": {}, "authors": [], "description": "x", "license": "MIT"}
    d.update(kw); return json.dumps(d).encode()

def gz_stream(parts, level=9):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=level) as f:
        for p in parts: f.write(p)
    return out.getvalue()

manifest = b'[package]\nname = "memory"\nversion = "1.0.0"\n'
good = gz_stream([header(b"memory-1.0.0/Cargo.toml", len(manifest)) + pad(manifest), b"\0" * 1024])
status, _ = publish(body(meta(vers="0.0.1"), gz_stream([header(b"memory-0.0.1/Cargo.toml", len(manifest.replace(b"1.0.0", b"0.0.1"))) + pad(manifest.replace(b"1.0.0", b"0.0.1")), b"\0" * 1024])))
print(f"warm-up publish: {status}; server", dict(hwm()))

def many_long_names(n):
    # n entries, each a GNU long name of 4000 bytes (just under the path bound) and an empty file: 100 000 entries
    # unpack to ~460 MB, under the 512 MiB unpack limit, so the reader keeps one path key per entry.
    for i in range(n):
        name = (b"memory-1.0.0/" + b"d" * 3970 + b"/%08d.rs" % i)
        yield header(b"././@LongLink", len(name) + 1, b"L") + pad(name + b"\0") + header(b"x", 0)
    yield header(b"memory-1.0.0/Cargo.toml", len(manifest)) + pad(manifest) + b"\0" * 1024

cases = [
    ("1 MiB JSON of 330 000 empty dependency objects", body(b'{"name":"memory","vers":"1.0.0","deps":[' + b",".join([b"{}"] * 349000) + b"]}", good)),
    ("1 MiB JSON of one feature with 260 000 values (the last invalid)", body(b'{"name":"memory","vers":"1.0.0","features":{"a":[' + b",".join([b'"b"'] * 260000) + b',"!"]}}', good)),
    ("1 MiB JSON of 90 000 badges (reserved name)", body(b'{"name":"std","vers":"1.0.0","badges":{' + b",".join(b'"%d":{}' % i for i in range(90000)) + b"}}", good)),
    ("GNU long name announcing 1 GiB", body(meta(), gz_stream([header(b"././@LongLink", 1 << 30, b"L"), b"a" * 65536]))),
    ("PAX header announcing 512 MiB", body(meta(), gz_stream([header(b"PaxHeaders/x", 512 << 20, b"x"), b"30 path=aaaaaaaaaaaaaaaaaaaaaa\n"]))),
    ("100 000 entries with 4 KB long names (~460 MB unpacked)", body(meta(), gz_stream(many_long_names(100000), 1))),
    ("1 MiB Cargo.toml of one long string", body(meta(), gz_stream([header(b"memory-1.0.0/Cargo.toml", 1 << 20) + b'[package]\nname = "' + b"a" * ((1 << 20) - 20) + b'"\n', b"\0" * 1024]))),
]
for path in sorted(os.listdir("tests/corpus/publish")):
    if path.endswith(".body"):
        cases.append(("corpus " + path, open(os.path.join("tests/corpus/publish", path), "rb").read()))
peak = 0
for what, data in cases:
    status, detail = publish(data)
    m = dict(hwm()); peak = max(peak, m["VmHWM"])
    if not what.startswith("corpus"):
        print(f"{status}  {len(data) / 1024:8.0f} KiB body  VmHWM {m['VmHWM']:5d} MiB  VmRSS {m['VmRSS']:5d} MiB  {what}: {detail.decode('utf-8', 'replace')[:90]}")
    if status < 400:
        raise SystemExit(f"accepted: {what}")
print(f"all {len(cases)} hostile publishes refused; server peak RSS (VmHWM) {peak} MiB")
PY
