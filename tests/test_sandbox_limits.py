"""The sandbox refuses oversized and over-deep request bodies with the documented error body,
over a real socket, and never reads a body it is going to refuse (issue 13 item 8)."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from riskdesk.providers.records import ErrorBody
from riskdesk.providers.sandbox import sample_state, start_sandbox
from riskdesk.providers.sandbox.inputs import MAX_BODY_BYTES, MAX_JSON_DEPTH
from sandbox_helpers import auth

CREATE = "/v1/servicerequests/en-US"


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox(sample_state(seed=1)) as server:
        yield server


@pytest.fixture
def client(sandbox):
    with httpx.Client(headers=auth(sandbox.token), timeout=10) as client:
        yield client


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text[:300]
    body = ErrorBody.model_validate(response.json())
    assert body.code == code
    return body.description


def test_json_nested_100000_deep_is_a_400_not_a_500(sandbox, client):
    deep = b"[" * 100_000 + b"]" * 100_000
    response = client.post(
        sandbox.base_url + CREATE, content=deep, headers={"Content-Type": "application/json"}
    )
    description = _error(response, 400, "2000")
    assert f"nests 100,000 levels deep: at most {MAX_JSON_DEPTH}" in description


def test_deep_inside_an_object_and_strings_do_not_count(sandbox, client):
    brackets_in_text = {"title": "[[[[" * 100, "description": "{{{{" * 100}
    response = client.post(sandbox.base_url + CREATE, json=brackets_in_text)
    assert response.status_code != 500 and "levels deep" not in response.text
    nested: object = "x"
    for _ in range(MAX_JSON_DEPTH + 5):
        nested = {"a": nested}
    response = client.post(sandbox.base_url + CREATE, json={"title": "t", "extra": nested})
    assert "levels deep" in _error(response, 400, "2000")


def _raw_response(sandbox, request: bytes, timeout: float) -> bytes:
    url = urlsplit(sandbox.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_a_200_mb_content_length_is_refused_before_the_body_is_read(sandbox):
    head = (
        f"POST {CREATE} HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer {sandbox.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {200 * 1024 * 1024}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = _raw_response(sandbox, head + b'{"title": "', timeout=5)  # the rest never comes
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 5
    body = answer.split(b"\r\n\r\n", 1)[1]
    if body:  # the error body, when it came in the same read
        assert b'"code":"413"' in body


def test_a_chunked_body_past_the_limit_is_cut_off_with_413(sandbox, client):
    sent = 0

    def chunks():
        nonlocal sent
        yield b'{"title": "'
        for _ in range(4 * MAX_BODY_BYTES // 65536):
            sent += 65536
            yield b"a" * 65536
        yield b'"}'

    response = client.post(sandbox.base_url + CREATE, content=chunks())
    assert "chunked" in response.request.headers.get("Transfer-Encoding", "")
    description = _error(response, 413, "413")
    assert f"at most {MAX_BODY_BYTES:,}" in description


def test_a_body_within_the_limits_still_works(sandbox, client):
    response = client.post(
        sandbox.base_url + CREATE,
        content=json.dumps({"title": "t" * 1000}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code < 500 and response.status_code != 413
