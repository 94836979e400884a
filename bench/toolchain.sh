#!/usr/bin/env bash
# Toolchain mirror benchmark: time `rustup toolchain install` straight from a fake dist server, through a cold mirror and
# through a warm one, and the mirror's RSS while it serves a 300 MB archive (cold: downloading, verifying and streaming
# it; warm: from storage). Prints figures, asserts nothing. Uses the machine's rustup with fresh RUSTUP_HOMEs (never its
# self-update), python3 for the dist server (http.server, throttled to --upstream-mbps so the cold 300 MB takes longer
# than the 5 s a request waits before it follows the download: the streaming path is what is measured), and a Release
# build of the server (BENCH_SERVER_DLL to use another).
#   bench/toolchain.sh [--component-mb N] [--big-mb N] [--upstream-mbps N (0: unthrottled)]
set -euo pipefail
cd "$(dirname "$0")/.."
COMPONENT_MB=16
BIG_MB=300
UPSTREAM_MBPS=20
while [ $# -gt 0 ]; do
  case "$1" in
    --component-mb) COMPONENT_MB="$2"; shift 2 ;;
    --big-mb) BIG_MB="$2"; shift 2 ;;
    --upstream-mbps) UPSTREAM_MBPS="$2"; shift 2 ;;
    *) echo "usage: bench/toolchain.sh [--component-mb N] [--big-mb N] [--upstream-mbps N]" >&2; exit 2 ;;
  esac
done
RUSTUP="$HOME/.cargo/bin/rustup"
[ -x "$RUSTUP" ] || { echo "needs rustup at $RUSTUP" >&2; exit 1; }
DLL="${BENCH_SERVER_DLL:-src/OrleansCrates.Server/bin/Release/net10.0/OrleansCrates.Server.dll}"
if [ -z "${BENCH_SERVER_DLL:-}" ]; then
  dotnet build src/OrleansCrates.Server -c Release -v q >/dev/null # Release, as deployed; incremental when up to date
fi
[ -f "$DLL" ] || { echo "no server build at $DLL" >&2; exit 1; }
WORK="$(mktemp -d /tmp/oc-bench-toolchain-XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
# N different free ports, all held open until every one is picked (one at a time, the OS may hand the same port out twice).
free_ports() { python3 -c 'import socket, sys; s=[socket.socket() for _ in range(int(sys.argv[1]))]; [x.bind(("127.0.0.1",0)) for x in s]; print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"; }

# A release in rustup's layout: rustc, cargo, rust-std as .tar.gz (each with COMPONENT_MB of incompressible payload),
# and a BIG_MB rust-docs archive the manifest lists (not in the profile: fetched with curl for the RSS figure).
python3 - "$WORK/dist-root" "$COMPONENT_MB" "$BIG_MB" <<'PY'
import hashlib, io, os, sys, tarfile
root, mb, big_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
date, version, target = "2026-11-20", "1.95.0", "x86_64-unknown-linux-gnu"
os.makedirs(f"{root}/dist/{date}", exist_ok=True)
def add(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name); info.size = len(data); info.mode = mode; tar.addfile(info, io.BytesIO(data))
def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""): h.update(chunk)
    return h.hexdigest()
manifest = f'manifest-version = "2"\ndate = "{date}"\n\n'
components = ["rustc", "cargo", "rust-std"]
for c in components:
    top = f"{c}-{version}-{target}"
    path = f"dist/{date}/{top}.tar.gz"
    with tarfile.open(f"{root}/{path}", "w:gz", compresslevel=1) as tar:
        add(tar, f"{top}/rust-installer-version", b"3\n")
        add(tar, f"{top}/components", f"{c}\n".encode())
        files = {"rustc": "bin/rustc", "cargo": "bin/cargo", "rust-std": f"lib/rustlib/{target}/lib/libstd.rlib"}
        add(tar, f"{top}/{c}/manifest.in", f"file:{files[c]}\nfile:lib/{c}-payload.bin\n".encode())
        add(tar, f"{top}/{c}/{files[c]}", f'#!/bin/sh\necho "{c} {version} (bench {date})"\n'.encode(), 0o755)
        add(tar, f"{top}/{c}/lib/{c}-payload.bin", os.urandom(mb << 20))
    manifest += f'[pkg.{c}]\nversion = "{version}"\n\n[pkg.{c}.target.{target}]\navailable = true\nurl = "https://static.rust-lang.org/{path}"\nhash = "{sha(root + "/" + path)}"\n\n'
first = f"dist/{date}/rustc-{version}-{target}.tar.gz"
manifest += f'[pkg.rust]\nversion = "{version}"\n\n[pkg.rust.target.{target}]\navailable = true\nurl = "https://static.rust-lang.org/{first}"\nhash = "{sha(root + "/" + first)}"\n'
for c in components:
    manifest += f'\n[[pkg.rust.target.{target}.components]]\npkg = "{c}"\ntarget = "{target}"\n'
manifest += "\n"
big = f"dist/{date}/rust-docs-{version}-{target}.tar.gz"
with open(f"{root}/{big}", "wb") as f:
    for _ in range(big_mb): f.write(os.urandom(1 << 20))
manifest += f'[pkg.rust-docs]\nversion = "{version}"\n\n[pkg.rust-docs.target.{target}]\navailable = true\nurl = "https://static.rust-lang.org/{big}"\nhash = "{sha(root + "/" + big)}"\n\n'
lst = ", ".join(f'"{c}"' for c in components)
manifest += f"[profiles]\nminimal = [{lst}]\ndefault = [{lst}]\n"
data = manifest.encode()
for p in ["dist/channel-rust-stable.toml", f"dist/{date}/channel-rust-stable.toml"]:
    open(f"{root}/{p}", "wb").write(data)
    open(f"{root}/{p}.sha256", "w").write(f"{hashlib.sha256(data).hexdigest()}  channel-rust-stable.toml\n")
print(big)
PY
BIG_PATH="dist/2026-11-20/rust-docs-1.95.0-x86_64-unknown-linux-gnu.tar.gz"

# The fake dist server: http.server sending every body at most UPSTREAM_MBPS MB/s (64 KiB chunks, paced), so a cold
# 300 MB archive takes ~15 s at 20 MB/s and the mirror streams it to the waiting client.
cat >"$WORK/throttled_server.py" <<'PY'
import functools, http.server, sys, time
port, root, mbps = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
class Throttled(http.server.SimpleHTTPRequestHandler):
    def copyfile(self, source, outputfile):
        if mbps <= 0:
            return super().copyfile(source, outputfile)
        rate, chunk, sent, start = mbps * 1024 * 1024, 64 * 1024, 0, time.monotonic()
        while True:
            data = source.read(chunk)
            if not data:
                break
            outputfile.write(data)
            sent += len(data)
            ahead = sent / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Throttled, directory=root))
server.serve_forever()
PY
read -r UP_PORT PORT SILO_PORT GATEWAY_PORT <<<"$(free_ports 4)"
python3 "$WORK/throttled_server.py" "$UP_PORT" "$WORK/dist-root" "$UPSTREAM_MBPS" >"$WORK/upstream.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$UP_PORT/dist/channel-rust-stable.toml" >/dev/null && break; sleep 0.2; done

install() { # $1 dist server; prints seconds
  local home; home="$(mktemp -d "$WORK/home-XXXX")"
  local start end
  start=$(date +%s.%N)
  RUSTUP_HOME="$home/rustup" CARGO_HOME="$home/cargo" RUSTUP_DIST_SERVER="$1" RUSTUP_UPDATE_ROOT="http://127.0.0.1:9/none" \
    "$RUSTUP" toolchain install stable --profile minimal --no-self-update >"$home/log" 2>&1 || { cat "$home/log" >&2; exit 1; }
  end=$(date +%s.%N)
  RUSTUP_HOME="$home/rustup" CARGO_HOME="$home/cargo" "$RUSTUP" run stable rustc --version >/dev/null
  python3 -c "print(f'{$end-$start:.2f}')"
}

DIRECT=$(install "http://127.0.0.1:$UP_PORT")

ASPNETCORE_URLS="http://127.0.0.1:$PORT" Storage__FileSystem__Root="$WORK/store" Mirror__Upstreams__0__IndexUrl="http://127.0.0.1:9/index/" \
  Toolchains__Upstreams__0__Url="http://127.0.0.1:$UP_PORT" Cluster__SiloPort=$SILO_PORT Cluster__GatewayPort=$GATEWAY_PORT \
  Logging__LogLevel__Default=Warning dotnet "$DLL" >"$WORK/mirror.log" 2>&1 &
MIRROR_PID=$!
PIDS+=($MIRROR_PID)
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done
MIRROR="http://127.0.0.1:$PORT/rustup"

COLD=$(install "$MIRROR")
WARM=$(install "$MIRROR")

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$MIRROR_PID/status"; }
peak_during() { # $1 url, $2 header file: downloads it, prints "seconds peak_rss_kb"
  local peak=0 start end
  start=$(date +%s.%N)
  curl -sf -o /dev/null -D "$2" "$1" &
  local curl_pid=$!
  while kill -0 "$curl_pid" 2>/dev/null; do r=$(rss_kb); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.1; done
  wait "$curl_pid"
  end=$(date +%s.%N)
  echo "$(python3 -c "print(f'{$end-$start:.2f}')") $peak"
}
IDLE=$(rss_kb)
read -r BIG_COLD_S BIG_COLD_RSS < <(peak_during "$MIRROR/$BIG_PATH" "$WORK/cold.headers")
read -r BIG_WARM_S BIG_WARM_RSS < <(peak_during "$MIRROR/$BIG_PATH" "$WORK/warm.headers")
GETS=$(grep -c "GET /$BIG_PATH" "$WORK/upstream.log" || true)
# Whether the cold answer followed the download (the streaming path) or waited for the verified file.
COLD_PATH=$(grep -qi '^x-mirror-streaming: true' "$WORK/cold.headers" && echo "streamed" || echo "NOT streamed: served whole after verification")

echo
echo "## Toolchain mirror ($COMPONENT_MB MB x 3 components, a $BIG_MB MB archive, dist server at ${UPSTREAM_MBPS} MB/s, $(basename "$(dirname "$(dirname "$DLL")")") build)"
echo
echo "| measurement | figure |"
echo "|---|---|"
echo "| rustup toolchain install, straight from the fake dist server | ${DIRECT} s |"
echo "| rustup toolchain install, through a cold mirror | ${COLD} s |"
echo "| rustup toolchain install, through a warm mirror | ${WARM} s |"
echo "| mirror RSS idle (after the installs) | $((IDLE / 1024)) MB |"
echo "| $BIG_MB MB archive, cold (download + verify + stream; $COLD_PATH): time, peak RSS | ${BIG_COLD_S} s, $((BIG_COLD_RSS / 1024)) MB |"
echo "| $BIG_MB MB archive, warm (from storage): time, peak RSS | ${BIG_WARM_S} s, $((BIG_WARM_RSS / 1024)) MB |"
echo "| upstream GETs of the $BIG_MB MB archive | $GETS |"
