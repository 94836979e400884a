#!/usr/bin/env bash
# Runs the OrleansCrates benchmark (see bench/README.md):
#   installs wrk and nginx if they are missing, builds the solution in Release, then runs the bench project,
#   forwarding every argument (--duration S, --connections 16,64,256, --skip-cargo, --skip-big, --help, ...).
# Set BENCH_NO_BUILD=1 to skip the build.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# nginx lives in /usr/sbin, which a non-login PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[run.sh] installing ${missing[*]} ..."
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq wrk nginx >/dev/null
fi

# Azurite: the build storm and the Azure-vs-filesystem comparison start their own (pinned in tests/azurite).
if [ ! -x tests/azurite/node_modules/.bin/azurite-blob ] && command -v npm >/dev/null 2>&1; then
  echo "[run.sh] installing Azurite (npm ci --prefix tests/azurite) ..."
  npm ci --prefix tests/azurite --no-audit --no-fund --loglevel=error
fi

if [ "${BENCH_NO_BUILD:-0}" != "1" ]; then
  echo "[run.sh] dotnet build OrleansCrates.sln -c Release ..."
  if ! dotnet build OrleansCrates.sln -c Release -nologo -v quiet; then
    # The bench needs only the server and itself; a broken test project elsewhere should not stop it.
    echo "[run.sh] the solution did not build; building only the server and the bench project ..." >&2
    dotnet build src/OrleansCrates.Server/OrleansCrates.Server.csproj -c Release -nologo -v quiet
    dotnet build bench/OrleansCrates.Bench/OrleansCrates.Bench.csproj -c Release -nologo -v quiet
  fi
fi

# 256 connections to each of two servers plus nginx's own files: keep well clear of a 1024 limit.
ulimit -n 65536 2>/dev/null || true

exec dotnet "$repo/bench/OrleansCrates.Bench/bin/Release/net10.0/OrleansCrates.Bench.dll" "$@"
