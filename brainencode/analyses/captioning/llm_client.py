"""A client for OpenAI-compatible chat-completions endpoints, with a disk cache.

One protocol covers OpenAI, vLLM, llama.cpp server and Ollama: ``POST {url}/chat/completions``
with ``{"model", "messages", ...}``, answered by ``choices[0].message.content``
(https://platform.openai.com/docs/api-reference/chat/create). Answers are cached on disk by the
endpoint and the request body (model, messages, sampling parameters), so a rerun makes no new
calls and another server is asked anew. The API key is read from an environment variable, sent
only in the Authorization header, never written to the cache, and redacted from everything
logged or raised, server replies included (an error body may echo the request's headers).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from brainencode.errors import BrainencodeError

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class AnswerCache:
    """Answers on disk, one JSON file per request, named by the SHA-256 of the endpoint and the
    request body (sorted keys). Written atomically, so an interrupted run never leaves a half
    answer."""

    def __init__(self, cache_dir: str | Path | None, endpoint: str):
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.endpoint = endpoint

    def _path(self, body: dict) -> Path | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(json.dumps({"endpoint": self.endpoint, "request": body},
                                        sort_keys=True).encode()).hexdigest()
        return self.cache_dir / key[:2] / f"{key}.json"

    def get(self, body: dict) -> str | None:
        path = self._path(body)
        return json.loads(path.read_text())["content"] if path and path.is_file() else None

    def put(self, body: dict, content: str) -> None:
        path = self._path(body)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        tmp.write_text(json.dumps({"endpoint": self.endpoint, "request": body,
                                   "content": content}))
        tmp.replace(path)


class ChatClient:
    """Chat completions from one endpoint and model.

    Parameters
    ----------
    url : base URL, e.g. http://localhost:8000/v1 (``/chat/completions`` is appended).
    model : the model name the server knows. api_key_env : environment variable holding the
    key (none sent when unset). cache_dir : where answers are kept (None: no cache).
    timeout_s : per request. max_retries : further tries after a failed one (connection errors,
    timeouts, HTTP 408/409/429/5xx), waiting ``backoff_s`` x 2^attempt, or the server's
    Retry-After. requests_per_minute : client-side rate limit. where : config key named in
    errors.
    """

    def __init__(self, url: str, model: str, api_key_env: str = "OPENAI_API_KEY",
                 cache_dir: str | Path | None = None, timeout_s: float = 60.0,
                 max_retries: int = 4, backoff_s: float = 1.0, requests_per_minute: float = 60.0,
                 where: str = "captioning"):
        self.url = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.cache = AnswerCache(cache_dir, self.url)
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.min_interval = 60.0 / requests_per_minute if requests_per_minute > 0 else 0.0
        self.where = where
        self.n_requests = 0  # requests actually sent (cache hits excluded)
        self._last_request = -float("inf")

    def complete(self, messages: list[dict], **params) -> str:
        """The assistant's reply to ``messages``; ``params`` (temperature, max_tokens, ...) are
        sent as they are."""
        body = {"model": self.model, "messages": messages, **params}
        content = self.cache.get(body)
        if content is None:
            content = self._post(body)
            self.cache.put(body, content)
        return content

    def complete_many(self, conversations: list[list[dict]], **params) -> list[str]:
        """One reply per conversation, asked one after the other (each cached as it comes, so
        an interrupted run keeps the finished answers)."""
        return [self.complete(messages, **params) for messages in conversations]

    def _key(self) -> str:
        return os.environ.get(self.api_key_env, "") if self.api_key_env else ""

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key():
            headers["Authorization"] = f"Bearer {self._key()}"
        return headers

    def _redact(self, text: str) -> str:
        """``text`` with the key replaced (a server's reply may quote the request's headers)."""
        key = self._key()
        return text.replace(key, "[redacted]") if key else text

    def _wait_for_rate_limit(self) -> None:
        wait = self._last_request + self.min_interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request = time.monotonic()

    def _post(self, body: dict) -> str:
        data = json.dumps(body).encode()
        problem = ""
        for attempt in range(self.max_retries + 1):
            self._wait_for_rate_limit()
            request = urllib.request.Request(self.url, data=data, headers=self._headers(),
                                             method="POST")
            retry_after = None
            self.n_requests += 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return self._content(response.read())
            except urllib.error.HTTPError as exc:
                problem = (f"HTTP {exc.code} {exc.reason}: "
                           f"{_short(self._redact(_text(exc.read())))}")
                if exc.code not in RETRY_STATUS:
                    raise BrainencodeError(f"{self.where}: {self.url} refused the request "
                                           f"({problem})") from None
                retry_after = _seconds(exc.headers.get("Retry-After"))
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                problem = (f"timed out after {self.timeout_s:g} s"
                           if isinstance(reason, (TimeoutError, socket.timeout))
                           else self._redact(f"unreachable ({reason})"))
            if attempt < self.max_retries:
                delay = retry_after if retry_after is not None else self.backoff_s * 2 ** attempt
                log.warning("%s: %s: %s; retry %d of %d in %.1f s", self.where, self.url,
                            problem, attempt + 1, self.max_retries, delay)
                time.sleep(delay)
        raise BrainencodeError(f"{self.where}: cannot get an answer from {self.url} (model "
                               f"{self.model!r}): {problem}, after {self.max_retries + 1} tries")

    def _content(self, raw: bytes) -> str:
        try:
            reply = json.loads(raw)
            content = reply["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise BrainencodeError(f"{self.where}: {self.url}: expected a chat completion "
                                   f"(choices[0].message.content), got "
                                   f"{_short(self._redact(_text(raw)))}") from None
        if not isinstance(content, str):
            raise BrainencodeError(f"{self.where}: {self.url}: choices[0].message.content: "
                                   f"expected text, got {type(content).__name__}")
        return content


def endpoint_client(section: dict, where: str, client_settings: dict,
                    cache_dir: str | Path | None) -> ChatClient:
    """The ChatClient a config section of kind openai names (``url``, ``model``,
    ``api_key_env``); ``where`` is the section's key, e.g. captioning.describer."""
    for key in ("url", "model"):
        if key not in section:
            raise BrainencodeError(f"{where}.{key}: expected a value (kind openai)")
    return ChatClient(section["url"], section["model"], section["api_key_env"], cache_dir,
                      where=where, **client_settings)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _seconds(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


class LocalChat:
    """The same ``complete(messages, **params)`` from a local causal language model (a folder or
    the Hugging Face cache, never downloaded), greedy decoding, answers cached like
    ChatClient's. The tokenizer's chat template formats the messages when it has one; else
    they are joined as plain text. ``complete_many`` decodes ``batch_size`` prompts at once
    (left-padded): on one CPU core SmolLM2-135M answers 8 prompts in about the time of 3."""

    def __init__(self, path: str, device: str = "auto", cache_dir: str | Path | None = None,
                 batch_size: int = 8):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from brainencode.features.hub import offline

        offline()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise BrainencodeError(f"captioning.describer.path: {path}: expected a local causal "
                                   f"language model folder ({exc})") from None
        self.tokenizer.padding_side = "left"  # generation continues every prompt at its end
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.device = torch.device(("cuda" if torch.cuda.is_available() else "cpu")
                                   if device == "auto" else device)
        self.model.to(self.device).eval()
        self.model_id = str(Path(path).resolve())
        self.cache = AnswerCache(cache_dir, "local")
        self.batch_size = batch_size

    @property
    def _templated(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def _prompt_text(self, messages: list[dict]) -> str:
        if self._templated:
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                      tokenize=False)
        return "\n\n".join(m["content"] for m in messages) + "\n\n"

    def complete(self, messages: list[dict], max_tokens: int = 200, **params) -> str:
        return self.complete_many([messages], max_tokens=max_tokens, **params)[0]

    def complete_many(self, conversations: list[list[dict]], max_tokens: int = 200,
                      **params) -> list[str]:
        """One reply per conversation: cached ones read, the others decoded in batches."""
        import torch

        bodies = [{"model": self.model_id, "messages": messages, "max_tokens": max_tokens,
                   **params} for messages in conversations]
        replies = [self.cache.get(body) for body in bodies]
        todo = [i for i, reply in enumerate(replies) if reply is None]
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start:start + self.batch_size]
            # a chat template writes its special tokens itself; plain text gets the tokenizer's
            inputs = self.tokenizer([self._prompt_text(conversations[i]) for i in batch],
                                    return_tensors="pt", padding=True,
                                    add_special_tokens=not self._templated).to(self.device)
            with torch.inference_mode():
                tokens = self.model.generate(**inputs, max_new_tokens=max_tokens,
                                             do_sample=False,
                                             pad_token_id=self.tokenizer.pad_token_id)
            new = tokens[:, inputs["input_ids"].shape[1]:]
            for i, text in zip(batch, self.tokenizer.batch_decode(new, skip_special_tokens=True),
                               strict=True):
                replies[i] = text.strip()
                self.cache.put(bodies[i], replies[i])
        return replies
