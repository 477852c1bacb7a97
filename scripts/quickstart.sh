#!/usr/bin/env bash
# Freshet's main job on the embedded default (RocksDB online store, DuckDB offline engine, file registry), as a
# Feast user would run it: init the quickstart repo, apply it, materialize its Parquet file into the online
# store, serve it, and send one real Feast request. The server is stopped by its PID at the end.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
freshet="$root/freshet"
repo="${1:-$(mktemp -d)/quickstart}"
port="${FRESHET_PORT:-6566}"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step freshet init "$repo"
"$freshet" init "$repo"
step freshet apply --repo "$repo"
"$freshet" apply --repo "$repo"
step freshet materialize-incremental now --repo "$repo"
"$freshet" materialize-incremental now --repo "$repo"

step freshet serve --repo "$repo" --port "$port" "&"
log="$(mktemp)"
"$freshet" serve --repo "$repo" --port "$port" --grpc-port -1 >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q "Serving project" "$log" && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
cat "$log"

# One HTTP request, with curl when the machine has it, else with bash's own /dev/tcp.
post() {
  local path="$1" body="$2"
  if command -v curl >/dev/null 2>&1; then
    curl -sS -X POST "http://127.0.0.1:$port$path" -H 'Content-Type: application/json' -d "$body"
  else
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'POST %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' "$path" "${#body}" "$body" >&3
    sed '1,/^\r$/d' <&3
    exec 3<&-
  fi
  echo
}

request='{"feature_service": "driver_activity", "entities": {"driver_id": [1001, 1002, 1009], "val_to_add": [1, 2, 3], "val_to_add_2": [10, 20, 30]}}'
step "POST http://127.0.0.1:$port/get-online-features $request"
post /get-online-features "$request"
