#!/usr/bin/env bash
# Memory of one large upload and download through the Azure Blob provider against a real Azurite (tests/azurite).
# Prints managed allocation and the test host's RSS while a SIZE_MB object streams up and down (default 400).
# Usage: bench/azure-blob-memory.sh [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb="${1:-400}"
[[ "$size_mb" =~ ^[0-9]+$ ]] || { echo "usage: $0 [SIZE_MB]" >&2; exit 2; }
[ -x tests/azurite/node_modules/.bin/azurite ] || npm ci --prefix tests/azurite >/dev/null
ORLEANSCRATES_BIG_OBJECT_MB="$size_mb" dotnet test tests/OrleansCrates.Storage.AzureBlob.Tests \
  --filter "FullyQualifiedName~LargeObjectTests" --logger "console;verbosity=detailed" 2>&1 \
  | grep -E "bytes: up|Test Run|Total tests|Failed |Assert" | sed 's/^ *//'
