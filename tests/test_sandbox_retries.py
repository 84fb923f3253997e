"""Safe retries at the sandbox, over HTTP: MS-RequestId replay, stale etags, the request log,
and a connection dropped after a change was applied."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from riskdesk.providers.sandbox import sample_state, start_sandbox
from riskdesk.providers.sandbox.journal import RequestLog, read_request_log
from sandbox_helpers import auth, first_active


@pytest.fixture
def sandbox():
    with start_sandbox(sample_state(seed=1)) as sb:
        yield sb


def _url(sb, tenant, sub):
    return f"{sb.base_url}/v1/customers/{tenant}/subscriptions/{sub}"


def _patch(client, sb, tenant, sub, status, *, request_id=None, if_match=None, body=None):
    if body is None:
        current = client.get(_url(sb, tenant, sub), headers=auth(sb.token)).json()
        body = {**current, "status": status}
        if_match = if_match or current["attributes"]["etag"]
    headers = {**auth(sb.token), "MS-RequestId": request_id or str(uuid.uuid4())}
    if if_match:
        headers["If-Match"] = if_match
    return client.patch(_url(sb, tenant, sub), json=body, headers=headers), body


def _status(sb, tenant, sub):
    return sb.state.subscription(tenant, sub).status


def test_a_repeated_request_id_is_replayed_without_changing_state(sandbox):
    """The issue's case: replaying a suspend after a reactivation must not suspend again."""
    tenant, sub = first_active(sandbox.state)
    with httpx.Client() as client:
        suspend_id = str(uuid.uuid4())
        first, body = _patch(client, sandbox, tenant, sub, "suspended", request_id=suspend_id)
        assert first.status_code == 200 and _status(sandbox, tenant, sub) == "suspended"
        again, _ = _patch(client, sandbox, tenant, sub, "active")
        assert again.status_code == 200 and _status(sandbox, tenant, sub) == "active"
        replay = client.patch(
            _url(sandbox, tenant, sub),
            content=json.dumps(body).encode(),  # the same bytes as the first time
            headers={**auth(sandbox.token), "MS-RequestId": suspend_id,
                     "Content-Type": "application/json",
                     "If-Match": body["attributes"]["etag"]},
        )  # fmt: skip
    assert replay.status_code == 200
    assert replay.json() == first.json()  # the kept answer: suspended, the etag of then
    assert replay.headers["MS-RequestId"] == suspend_id
    assert _status(sandbox, tenant, sub) == "active"  # not suspended again
    entries = [e for e in sandbox.request_log.entries if e.request_id == suspend_id]
    assert [(e.status, e.state_changed, e.replayed) for e in entries] == [
        (200, True, False),
        (200, False, True),
    ]
    assert entries[0].change == f"subscription {sub}: active -> suspended"
    assert sandbox.request_log.changes_applied_twice() == []


def test_one_request_id_is_one_call_a_different_body_is_refused(sandbox):
    tenant, sub = first_active(sandbox.state)
    rid = str(uuid.uuid4())
    with httpx.Client() as client:
        first, body = _patch(client, sandbox, tenant, sub, "suspended", request_id=rid)
        assert first.status_code == 200
        other = {**body, "status": "active", "attributes": first.json()["attributes"]}
        second, _ = _patch(client, sandbox, tenant, sub, "active", request_id=rid, body=other)
    assert second.status_code == 409
    assert "already used for another request" in second.json()["description"]
    assert _status(sandbox, tenant, sub) == "suspended"
    assert sandbox.request_log.changes_applied_twice() == []


def test_a_stale_etag_is_answered_412_with_code_2055(sandbox):
    """Documented: 412 Precondition failed for optimistic concurrency (If-Match); error code
    2055 "Etag is no longer valid"."""
    tenant, sub = first_active(sandbox.state)
    with httpx.Client() as client:
        stale = client.get(_url(sandbox, tenant, sub), headers=auth(sandbox.token)).json()
        moved, _ = _patch(client, sandbox, tenant, sub, "suspended")
        assert moved.status_code == 200
        # The If-Match header, then the body's etag alone: both stale.
        header, _ = _patch(client, sandbox, tenant, sub, "active",
                           body={**stale, "status": "active"},
                           if_match=f'"{stale["attributes"]["etag"]}"')  # fmt: skip
        in_body, _ = _patch(client, sandbox, tenant, sub, "active",
                            body={**stale, "status": "active"})  # fmt: skip
        star, _ = _patch(client, sandbox, tenant, sub, "active",
                         body={**stale, "status": "active"}, if_match="*")  # fmt: skip
    for refused in (header, in_body):
        assert refused.status_code == 412
        assert refused.json()["code"] == "2055"
        assert "Etag is no longer valid" in refused.json()["description"]
    assert star.status_code == 200  # If-Match: * asks for no check
    assert _status(sandbox, tenant, sub) == "active"
    refusals = [e for e in sandbox.request_log.entries if e.status == 412]
    assert len(refusals) == 2 and not any(e.state_changed for e in refusals)


def test_an_injected_fault_is_not_kept_the_retry_is_carried_out(sandbox):
    tenant, sub = first_active(sandbox.state)
    rid = str(uuid.uuid4())
    with httpx.Client() as client:
        current = client.get(_url(sandbox, tenant, sub), headers=auth(sandbox.token)).json()
        sandbox.faults.error_rate = 1.0
        failed, body = _patch(client, sandbox, tenant, sub, "suspended", request_id=rid,
                              body={**current, "status": "suspended"})  # fmt: skip
        sandbox.faults.error_rate = 0.0
        retried, _ = _patch(client, sandbox, tenant, sub, "suspended", request_id=rid, body=body)
    assert failed.status_code in (500, 503) and retried.status_code == 200
    assert _status(sandbox, tenant, sub) == "suspended"
    entries = [e for e in sandbox.request_log.entries if e.request_id == rid]
    assert [(e.fault, e.state_changed, e.replayed) for e in entries] == [
        ("error", False, False),
        (None, True, False),
    ]


def test_a_connection_dropped_after_the_change_is_replayed_on_retry(sandbox):
    tenant, sub = first_active(sandbox.state)
    rid = str(uuid.uuid4())
    with httpx.Client() as client:
        current = client.get(_url(sandbox, tenant, sub), headers=auth(sandbox.token)).json()
        body = {**current, "status": "suspended"}
        sandbox.faults.drop_rate = 1.0
        with pytest.raises(httpx.RemoteProtocolError):
            _patch(client, sandbox, tenant, sub, "suspended", request_id=rid, body=body)
        assert _status(sandbox, tenant, sub) == "suspended"  # applied, reply lost
        sandbox.faults.drop_rate = 0.0
        retried, _ = _patch(client, sandbox, tenant, sub, "suspended", request_id=rid, body=body)
    assert retried.status_code == 200 and retried.json()["status"] == "suspended"
    entries = [e for e in sandbox.request_log.entries if e.request_id == rid]
    assert [(e.dropped, e.state_changed, e.replayed) for e in entries] == [
        (True, True, False),
        (False, False, True),
    ]


def test_the_request_log_is_written_as_json_lines(tmp_path):
    path = tmp_path / "requests.jsonl"
    state = sample_state(seed=1)
    with start_sandbox(state, request_log=RequestLog(path)) as sb, httpx.Client() as client:
        tenant, sub = first_active(state)
        client.get(sb.base_url + "/v1/customers", headers={"MS-RequestId": "r-1"})  # no token
        _patch(client, sb, tenant, sub, "suspended", request_id="r-2")
    entries = read_request_log(path)
    assert [(e.method, e.request_id, e.status, e.fault) for e in entries] == [
        ("GET", "r-1", 401, "unauthorized"),
        ("GET", None, 200, None),
        ("PATCH", "r-2", 200, None),
    ]
    assert entries[2].state_changed and entries[2].path.endswith(f"/subscriptions/{sub}")
    assert entries[2].body_sha256 and not entries[1].state_changed


def test_sandbox_command_writes_the_request_log(tmp_path):
    """`riskdesk sandbox --request-log FILE` (with faults and dropped connections)."""
    log_path, state_path = tmp_path / "requests.jsonl", tmp_path / "state.json"
    sample_state(seed=2, path=state_path).save()
    command = [sys.executable, "-m", "riskdesk", "sandbox", "--port", "0", "--state",
               str(state_path), "--request-log", str(log_path), "--throttle-rate", "0.5",
               "--max-retry-after", "0", "--seed", "3"]  # fmt: skip
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stderr.readline()
        assert line.startswith("sandbox: http://127.0.0.1:"), line + server.stderr.read()
        base_url = line.split()[1]
        with httpx.Client() as client:
            _wait_until_listening(client, base_url)
            statuses = [
                client.get(base_url + "/v1/customers", headers=auth("sandbox-token")).status_code
                for _ in range(10)
            ]
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    entries = read_request_log(log_path)[1:]  # after the first, unauthenticated probe
    assert [e.status for e in entries] == statuses and {200, 429} <= set(statuses)
    assert all((e.fault == "throttle") == (e.status == 429) for e in entries)


def _wait_until_listening(client: httpx.Client, base_url: str, timeout: float = 20.0) -> None:
    """The URL is printed once the port is bound, a moment before the server accepts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.get(base_url + "/v1/customers")  # no token: 401, logged
            return
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
