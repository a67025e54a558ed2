"""A local HTTP server that speaks the OpenAI chat-completions protocol, for tests.

It validates every request body against the protocol's JSON schema (the fields this project
sends), records requests and Authorization headers, and answers like a tiny deterministic
LLM: a keyword request gets a JSON array of the most frequent content words of its captions,
a sentence request a sentence from its keywords, an image request a fixed caption. Failure
modes (HTTP errors, Retry-After, slow answers) are set per test.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema

TEXT_PART = {"type": "object", "required": ["type", "text"], "additionalProperties": False,
             "properties": {"type": {"const": "text"}, "text": {"type": "string"}}}
IMAGE_PART = {"type": "object", "required": ["type", "image_url"], "additionalProperties": False,
              "properties": {"type": {"const": "image_url"},
                             "image_url": {"type": "object", "required": ["url"],
                                           "properties": {"url": {
                                               "type": "string",
                                               "pattern": "^data:image/(jpeg|png);base64,"}}}}}
REQUEST_SCHEMA = {
    "type": "object",
    "required": ["model", "messages"],
    "additionalProperties": False,
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "messages": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["role", "content"], "additionalProperties": False,
            "properties": {
                "role": {"enum": ["system", "user", "assistant"]},
                "content": {"oneOf": [{"type": "string", "minLength": 1},
                                      {"type": "array", "minItems": 1,
                                       "items": {"oneOf": [TEXT_PART, IMAGE_PART]}}]}}}},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "max_tokens": {"type": "integer", "minimum": 1},
    },
}
STOP = {"the", "and", "with", "on", "in", "of", "a", "an", "at", "to", "is", "are", "for"}


def fake_llm(messages: list[dict]) -> str:
    user = messages[-1]["content"]
    if isinstance(user, list):
        return "a picture of coloured shapes"
    if "JSON array" in user:
        lines = re.findall(r"^\d+\. (.*)$", user, flags=re.M)
        words = Counter(w for line in lines for w in set(re.findall(r"[a-z]+", line.lower()))
                        if w not in STOP and len(w) > 2)
        return "Keywords:\n" + json.dumps([w for w, _ in words.most_common(3)])
    keywords = re.search(r"first: (.*)\. Answer", user)
    return f'"An image with {keywords.group(1)}."' if keywords else "ok"


class ChatServer:
    """Start with ``with ChatServer() as server:``; ``server.url`` is the base URL."""

    def __init__(self):
        self.requests: list[dict] = []
        self.authorization: list[str | None] = []
        self.schema_errors: list[str] = []
        self.fail_next: list[tuple[int, dict]] = []  # (status, headers) answered first
        self.delay_s = 0.0
        self.echo_authorization = False  # error bodies quote the request's header, as some do
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                outer.authorization.append(self.headers.get("Authorization"))
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found"}})
                try:
                    jsonschema.validate(body, REQUEST_SCHEMA)
                except jsonschema.ValidationError as exc:
                    outer.schema_errors.append(exc.message)
                    return self._send(400, {"error": {"message": exc.message}})
                if outer.fail_next:
                    status, headers = outer.fail_next.pop(0)
                    echo = (f" (request had Authorization: {self.headers.get('Authorization')})"
                            if outer.echo_authorization else "")
                    return self._send(status, {"error": {"message": "try later" + echo}},
                                      headers)
                time.sleep(outer.delay_s)
                self._send(200, {
                    "id": f"chatcmpl-{len(outer.requests)}", "object": "chat.completion",
                    "created": int(time.time()), "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {
                        "role": "assistant", "content": fake_llm(body["messages"])}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"

    def __enter__(self) -> ChatServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
