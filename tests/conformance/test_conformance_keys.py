"""Keys in any case both ways; the sandbox as strict as the documentation and no stricter;
`curl` with the documented PascalCase bodies against `riskdesk sandbox`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conformance_docs import CUSTOMER, FRAUD_SUBSCRIPTION, documented_state, example, examples
from pydantic import TypeAdapter
from test_conformance_requests import ANSWER, PLACEHOLDER_SUB, send

from riskdesk.providers.sandbox.server import DEFAULT_TOKEN, start_sandbox

CASES = {
    "lower": str.lower,
    "UPPER": str.upper,
    "Pascal": lambda k: k[:1].upper() + k[1:],
    "camel": lambda k: k[:1].lower() + k[1:],
}


def recase(value: Any, how) -> Any:
    if isinstance(value, dict):
        return {how(k): recase(v, how) for k, v in value.items()}
    if isinstance(value, list):
        return [recase(v, how) for v in value]
    return value


def lowered(value: Any) -> Any:
    return recase(value, str.lower)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    ("page", "ex"), examples("response"), ids=[f"{p}:{e['name']}" for p, e in examples("response")]
)
def test_the_client_reads_documented_responses_in_any_case(page, ex, case):
    model = TypeAdapter(ANSWER[page])
    as_printed = model.validate_python(ex["body"])
    recased = model.validate_python(recase(ex["body"], CASES[case]))
    dump = TypeAdapter(ANSWER[page]).dump_python
    assert lowered(dump(recased, mode="json", by_alias=True)) == lowered(
        dump(as_printed, mode="json", by_alias=True)
    )


@pytest.fixture
def sandbox():
    with start_sandbox(documented_state()) as running:
        yield running


BODIES = [(p, e) for p, e in examples("request") if e.get("body") is not None]


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(("page", "ex"), BODIES, ids=[f"{p}:{e['name']}" for p, e in BODIES])
def test_the_sandbox_reads_documented_bodies_in_any_case(sandbox, page, ex, case):
    with httpx.Client() as client:
        response = send(client, sandbox, page, {**ex, "body": recase(ex["body"], CASES[case])})
    assert 200 <= response.status_code < 300, response.text


# ---------------------------------------------------------------------- as strict as documented


def _post(sandbox, path: str, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client() as client:
        return client.request(
            "PATCH" if "/subscriptions/" in path and "fraud" not in path else "POST",
            sandbox.base_url + path,
            json=body,
            headers={"Authorization": f"Bearer {sandbox.token}"},
        )


def _suspend_body(sandbox) -> dict[str, Any]:
    body = dict(example("suspend-a-subscription", "request")["body"])
    etag = sandbox.state.subscription(CUSTOMER, PLACEHOLDER_SUB).attributes.etag
    body["Attributes"] = {**body["Attributes"], "Etag": etag}
    return body


SUB_PATH = f"/v1/customers/{CUSTOMER}/subscriptions/{PLACEHOLDER_SUB}"
FRAUD_PATH = f"/v1/fraudEvents/subscription/{FRAUD_SUBSCRIPTION}/status"


def test_what_the_documentation_requires_is_required(sandbox):
    # suspend: "a full Subscription resource ... ensure that the Status property has been updated"
    no_status = {k: v for k, v in _suspend_body(sandbox).items() if k != "Status"}
    assert _post(sandbox, SUB_PATH, no_status).status_code == 400
    # fraud status: resolvedReason (Fraud or Ignore) is needed to resolve
    resolve = {"EventIds": [], "EventStatus": "Resolved"}
    assert _post(sandbox, FRAUD_PATH, resolve).status_code == 400
    bad_reason = {**resolve, "ResolvedReason": "Because"}
    assert _post(sandbox, FRAUD_PATH, bad_reason).status_code == 400
    # service request: Title, Description, Severity, SupportTopicId
    create = dict(example("create-a-service-request", "request")["body"])
    del create["Title"]
    assert _post(sandbox, "/v1/servicerequests/en-US", create).status_code == 400


def test_what_the_documentation_leaves_out_is_not_required(sandbox):
    # the documented suspend body has no offerId, and unknown fields (PartnerId) are fine
    body = _suspend_body(sandbox)
    assert "OfferId" not in body and "PartnerId" in body
    assert _post(sandbox, SUB_PATH, body).status_code == 200
    # eventIds left out: every event of the subscription; keys in any case
    response = _post(sandbox, FRAUD_PATH, {"eventstatus": "investigating"})
    assert response.status_code == 200, response.text
    assert [e["eventStatus"] for e in response.json()] == ["Investigating"]
    # the documented create body's placeholders (Id null, Status none, year-1 dates) are ignored
    created = _post(sandbox, "/v1/servicerequests/en-US",
                    example("create-a-service-request", "request")["body"])  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "open" and created.json()["id"]


# ---------------------------------------------------------------------- curl and the CLI


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _curl(*args: str) -> tuple[int, str]:
    out = subprocess.run(
        ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", *args],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    body, _, code = out.stdout.rpartition("\n")
    return int(code), body


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_with_documented_bodies_against_riskdesk_sandbox(tmp_path: Path):
    state = documented_state()
    state.path = tmp_path / "sandbox.json"
    state.save()
    etag = state.subscription(CUSTOMER, PLACEHOLDER_SUB).attributes.etag
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "riskdesk", "sandbox", "--port", str(port), "--state",
         str(state.path)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    auth = ["-H", f"Authorization: Bearer {DEFAULT_TOKEN}", "-H", "Content-Type: application/json"]
    try:
        for _ in range(200):
            try:
                httpx.get(base + "/v1/customers", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        suspend = json.dumps(example("suspend-a-subscription", "request")["body"]).replace(
            "<etag>", etag
        )
        code, body = _curl("-X", "PATCH", *auth, "-H", f"If-Match: {etag}", "--data", suspend,
                           base + SUB_PATH)  # fmt: skip
        assert code == 200, body
        assert json.loads(body)["status"] == "suspended"
        fraud = json.dumps(example("update-fraud-events-status", "request")["body"])
        code, body = _curl("-X", "POST", *auth, "--data", fraud, base + FRAUD_PATH)
        assert code == 200, body
        assert [e["eventStatus"] for e in json.loads(body)] == ["Resolved"]
        code, body = _curl(*auth, base + "/v1/fraudEvents")
        assert code == 200 and isinstance(json.loads(body), list), body
    finally:
        server.terminate()
        server.wait(timeout=10)
