#!/usr/bin/env bash
# A cluster on one machine: Redis (the Orleans membership table), Azurite (Blob Storage emulator), N server nodes —
# silos of one Orleans cluster — sharing both, and nginx balancing across them round-robin. Ctrl-C stops everything
# it started (the nodes first, then Redis: silos cannot leave cleanly without their membership table).
#
#   infra/local-cluster.sh [--nodes N] [--port LB_PORT] [--upstream INDEX_URL] [--no-build] [--smoke]
#
#   --nodes N        nodes to start (default 3), on ports LB_PORT+1 … LB_PORT+N
#   --port P         the load balancer's port (default 8080); Azurite listens on P+100, Redis on P+200, and node i's
#                    silo, gateway and internal HTTP (cold downloads relayed between silos) on P+300+i, P+400+i, P+500+i
#   --upstream URL   the upstream sparse index (default https://index.crates.io/)
#   --no-build       use the existing Release build
#   --smoke          start, check every node answers through the load balancer, then stop (for CI and trying it out)
#
# Needs: the .NET 10 SDK, node/npm (Azurite, installed into tests/azurite on first use), nginx and redis-server
# (apt-get install nginx redis-server).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

nodes=3 port=8080 upstream=https://index.crates.io/ build=1 smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --upstream) upstream=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --smoke) smoke=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

azurite_port=$((port + 100))
redis_port=$((port + 200))
work=$(mktemp -d "${TMPDIR:-/tmp}/orleanscrates-cluster.XXXXXX")
pids=()

stop() {
  trap - INT TERM EXIT
  echo "stopping…"
  # Newest first: nginx, the nodes, then Azurite and Redis.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  if [ -n "${keep_logs:-}" ]; then
    rm -rf "$work/azurite"
  else
    rm -rf "$work"
  fi
}
trap stop EXIT
trap 'exit 130' INT TERM

wait_for() { # URL SECONDS NAME LOG
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    if [ $SECONDS -ge "$deadline" ]; then
      echo "$3 did not answer $1 within $2 s; its log ($4):" >&2
      tail -n 30 "$4" >&2 || true
      keep_logs=1
      exit 1
    fi
    sleep 0.3
  done
}

command -v nginx >/dev/null || { echo "nginx is needed: apt-get install nginx" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is needed: apt-get install curl" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is needed: apt-get install redis-server" >&2; exit 1; }
if [ ! -x tests/azurite/node_modules/.bin/azurite-blob ]; then
  npm ci --prefix tests/azurite --no-audit --no-fund --loglevel=error
fi
dll=src/OrleansCrates.Server/bin/Release/net10.0/OrleansCrates.Server.dll
if [ "$build" = 1 ]; then
  dotnet build src/OrleansCrates.Server -c Release --nologo -v quiet
fi
[ -f "$dll" ] || { echo "$dll is missing; run without --no-build" >&2; exit 1; }

# Azurite: the storage every node shares.
mkdir -p "$work/azurite"
tests/azurite/node_modules/.bin/azurite-blob --blobHost 127.0.0.1 --blobPort "$azurite_port" --location "$work/azurite" \
  --silent --disableTelemetry --skipApiVersionCheck >"$work/azurite.log" 2>&1 &
pids+=($!)
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
connection="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$azurite_port/devstoreaccount1;"
deadline=$((SECONDS + 60))
until grep -q "successfully listens on" "$work/azurite.log"; do
  [ $SECONDS -lt $deadline ] || { echo "Azurite did not start:" >&2; cat "$work/azurite.log" >&2; exit 1; }
  sleep 0.3
done

# Redis: the cluster's membership table (in production it must be durable: persistence on; here it lives in $work).
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --appendonly yes >"$work/redis.log" 2>&1 &
pids+=($!)
deadline=$((SECONDS + 30))
until grep -q "Ready to accept connections" "$work/redis.log"; do
  [ $SECONDS -lt $deadline ] || { echo "Redis did not start:" >&2; cat "$work/redis.log" >&2; exit 1; }
  sleep 0.2
done

# The nodes: stateless, configured only through the environment, exactly as in a container.
servers=""
for i in $(seq 1 "$nodes"); do
  node_port=$((port + i))
  Storage__Provider=AzureBlob \
  Storage__AzureBlob__ConnectionString="$connection" \
  Mirror__Upstreams__0__IndexUrl="$upstream" \
  Mirror__PublicUrl="http://127.0.0.1:$port" \
  Alerts__NodeName="node-$i" \
  Cluster__Provider=Redis \
  Cluster__Redis__ConnectionString="127.0.0.1:$redis_port" \
  Cluster__AdvertisedAddress=127.0.0.1 \
  Cluster__SiloPort=$((port + 300 + i)) \
  Cluster__GatewayPort=$((port + 400 + i)) \
  Cluster__InternalHttpPort=$((port + 500 + i)) \
  ASPNETCORE_ENVIRONMENT=Production \
    dotnet "$repo/$dll" --urls "http://127.0.0.1:$node_port" >"$work/node-$i.log" 2>&1 &
  pids+=($!)
  servers+="    server 127.0.0.1:$node_port max_fails=1 fail_timeout=5s;"$'\n'
done
for i in $(seq 1 "$nodes"); do
  wait_for "http://127.0.0.1:$((port + i))/health/ready" 60 "node-$i" "$work/node-$i.log"
done

# nginx in front: round-robin; a node that refuses or times out is skipped for 5 s (passive checks only).
mkdir -p "$work/nginx/tmp"
chmod 777 "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log $work/nginx/access.log;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  upstream orleanscrates {
$servers    keepalive 32;
  }
  server {
    listen 127.0.0.1:$port;
    client_max_body_size 20m;
    location / {
      proxy_pass http://orleanscrates;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_next_upstream error timeout;
      add_header X-Served-By \$upstream_addr always;
    }
  }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' >"$work/nginx/stdout.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$port/health/ready" 20 nginx "$work/nginx/error.log"

cat <<INFO

OrleansCrates cluster: $nodes nodes behind http://127.0.0.1:$port/ (Azurite on 127.0.0.1:$azurite_port, Redis on 127.0.0.1:$redis_port, logs in $work)
Point cargo at it (~/.cargo/config.toml or .cargo/config.toml):

[source.crates-io]
replace-with = "mirror"

[source.mirror]
registry = "sparse+http://127.0.0.1:$port/index/"

INFO

if [ "$smoke" = 1 ]; then
  declare -A seen=()
  for _ in $(seq 1 $((nodes * 3))); do
    served=$(curl -fsS -D - -o /dev/null "http://127.0.0.1:$port/health/ready" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-served-by"{print $2}')
    seen[$served]=1
  done
  curl -fsS "http://127.0.0.1:$port/index/config.json"; echo
  if [ "${#seen[@]}" -ne "$nodes" ]; then
    echo "smoke: FAILED, the load balancer reached ${#seen[@]} of $nodes nodes: ${!seen[*]}" >&2
    exit 1
  fi
  # Every node sees every silo (membership converges in seconds).
  for i in $(seq 1 "$nodes"); do
    deadline=$((SECONDS + 60))
    until curl -fsS "http://127.0.0.1:$((port + i))/health/ready" | grep -q "\"activeSilos\":$nodes[,}]"; do
      [ $SECONDS -lt $deadline ] || { echo "smoke: FAILED, node-$i does not see $nodes active silos" >&2; exit 1; }
      sleep 0.3
    done
  done
  echo "smoke: OK, the load balancer reached all $nodes nodes: ${!seen[*]}; each sees $nodes active silos"
  exit 0
fi

echo "Ctrl-C stops the cluster."
wait -n "${pids[@]}" || true
sleep 1 # Ctrl-C reaches the nodes too: give its trap the chance to run first, so this is only said when one died
keep_logs=1
echo "a process of the cluster exited unexpectedly; logs kept in $work" >&2
exit 1
