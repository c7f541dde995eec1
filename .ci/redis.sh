# Sourced by .ci/run: a private redis-server on 127.0.0.1 and a free port for the tests that need one
# (BullMQ sweeps, tests/run/distributed.test.ts), found through REDIS_URL; stopped when CI exits.
# Installs the Debian package when it is missing (CI has apt); an existing REDIS_URL is used as is.
if [[ -z "${REDIS_URL:-}" ]]; then
  if ! command -v redis-server >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
      echo "installing redis-server (apt-get)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    else
      echo "redis-server is missing and cannot be installed here: apt-get install redis-server" >&2
      exit 1
    fi
  fi
  redis_port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
  redis_dir="$(mktemp -d)"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$redis_dir" >"$redis_dir/log" 2>&1 &
  redis_pid=$!
  # Stop it on exit, keeping whatever EXIT trap the caller already set.
  redis_prev_trap="$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")"
  trap "kill $redis_pid 2>/dev/null || true; rm -rf '$redis_dir'; $redis_prev_trap" EXIT
  for _ in $(seq 100); do
    redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1; then
    echo "redis-server did not start:" >&2
    cat "$redis_dir/log" >&2
    exit 1
  fi
  export REDIS_URL="redis://127.0.0.1:$redis_port"
  echo "$(redis-server --version | cut -d' ' -f1-3) on $REDIS_URL (pid $redis_pid)"
fi
