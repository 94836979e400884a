#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, then `dotnet test`.
# Needs: the .NET 10 SDK, cargo (rustup's default toolchain), node + npm (and Debian's chromium and redis-server, installed here as root). Prints one closing line:
#   tests: N passed, N failed, N skipped
set -euo pipefail
cd "$(dirname "$0")"

# cargo: the end-to-end tests drive the real one.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
# rustup: the toolchain mirror tests install toolchains with the machine's real rustup (never its self-update).
[ -x "$HOME/.cargo/bin/rustup" ] || { echo "rustup is required at ~/.cargo/bin/rustup (https://rustup.rs)" >&2; exit 1; }

# Azurite: the Azure Blob tests run against a real emulator, pinned in tests/azurite/package-lock.json.
if [ ! -x tests/azurite/node_modules/.bin/azurite-blob ]; then
  npm ci --prefix tests/azurite --no-audit --no-fund --loglevel=error
fi

# Dashboard test: Debian's headless Chromium (never a downloaded browser) driven by playwright-core, pinned in
# tests/dashboard/package-lock.json.
if [ ! -d tests/dashboard/node_modules/playwright-core ]; then
  npm ci --prefix tests/dashboard --no-audit --no-fund --loglevel=error
fi
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: /usr/bin/chromium is missing and this is not root: the dashboard test will fail (apt-get install -y chromium)" >&2
  fi
fi

# Cluster tests: Debian's redis-server holds the Orleans membership table of the multi-process clusters the tests start.
if [ ! -x /usr/bin/redis-server ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "warning: /usr/bin/redis-server is missing and this is not root: the cluster tests will fail (apt-get install -y redis-server)" >&2
  fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test OrleansCrates.sln "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One summary line over every test project ("Passed!  - Failed: 0, Passed: 73, Skipped: 0, ...").
awk '
  /(Passed|Failed)! +- +Failed: / {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:")  { f += $(i+1) }
      if ($i == "Passed:")  { p += $(i+1) }
      if ($i == "Skipped:") { s += $(i+1) }
    }
  }
  END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }
' "$log"
exit "$status"
