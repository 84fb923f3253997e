"""The Partner Center client's safe retries against the sandbox: on a stale etag it reads the
subscription again and retries once; a retry of a change keeps its MS-RequestId and body."""

from __future__ import annotations

import httpx
import pytest

from riskdesk.providers.auth import StaticToken
from riskdesk.providers.errors import EtagConflictError
from riskdesk.providers.partner_center import PartnerCenter
from riskdesk.providers.sandbox import sample_state, start_sandbox
from riskdesk.providers.sandbox.state import new_etag
from sandbox_helpers import first_active


@pytest.fixture
def sandbox():
    with start_sandbox(sample_state(seed=1)) as sb:
        yield sb


def _another_writer(state, tenant, sub, *, status=None):
    """Someone else changes the subscription (a new etag; a new status if given)."""
    with state.lock:
        current = state.subscriptions[tenant][sub]
        attributes = current.attributes.model_copy(update={"etag": new_etag()})
        update = {"attributes": attributes} | ({"status": status} if status else {})
        state.subscriptions[tenant][sub] = current.model_copy(update=update)


def _client(sandbox, *, before_patch=None):
    patches = []

    def hook(request: httpx.Request) -> None:
        if request.method == "PATCH":
            patches.append(request)
            if before_patch is not None:
                before_patch(len(patches))

    http = httpx.Client(event_hooks={"request": [hook]})
    client = PartnerCenter(
        StaticToken(sandbox.token), base_url=sandbox.base_url, client=http, backoff_base=0.001
    )
    return client, patches, http


def _patches_in_log(sandbox):
    return [e for e in sandbox.request_log.entries if e.method == "PATCH"]


def test_a_stale_etag_is_read_again_and_retried_once(sandbox):
    tenant, sub = first_active(sandbox.state)

    def before(n):
        if n == 1:  # between our read and our write
            _another_writer(sandbox.state, tenant, sub)

    client, patches, http = _client(sandbox, before_patch=before)
    with http:
        record = client.set_subscription_status(tenant, sub, "suspended")
    assert record.status == "suspended"
    assert sandbox.state.subscription(tenant, sub).status == "suspended"
    logged = _patches_in_log(sandbox)
    assert [(e.status, e.state_changed) for e in logged] == [(412, False), (200, True)]
    assert logged[0].request_id != logged[1].request_id  # a new call, a new request id
    # Each PATCH carried the etag it had just read.
    etags = [p.headers["If-Match"] for p in patches]
    assert etags[0] != etags[1]


def test_a_conflict_with_a_writer_that_did_the_same_ends_without_a_second_patch(sandbox):
    tenant, sub = first_active(sandbox.state)

    def before(n):
        if n == 1:
            _another_writer(sandbox.state, tenant, sub, status="suspended")

    client, patches, http = _client(sandbox, before_patch=before)
    with http:
        record = client.set_subscription_status(tenant, sub, "suspended")
    assert record.status == "suspended" and len(patches) == 1
    assert [e.status for e in _patches_in_log(sandbox)] == [412]


def test_a_second_stale_etag_is_an_etag_conflict_and_changes_nothing(sandbox):
    tenant, sub = first_active(sandbox.state)
    client, patches, http = _client(
        sandbox, before_patch=lambda n: _another_writer(sandbox.state, tenant, sub)
    )
    with http, pytest.raises(EtagConflictError) as caught:
        client.set_subscription_status(tenant, sub, "suspended")
    assert caught.value.status == 412 and "changed again" in str(caught.value)
    assert len(patches) == 2  # retried once, not more
    assert sandbox.state.subscription(tenant, sub).status == "active"
    assert not any(e.state_changed for e in sandbox.request_log.entries)


def test_a_dropped_reply_is_retried_under_the_same_request_id_and_body(sandbox):
    tenant, sub = first_active(sandbox.state)
    sandbox.faults.drop_rate = 1.0  # every change loses its reply; a replay changes nothing
    client, patches, http = _client(sandbox)
    with http:
        record = client.set_subscription_status(tenant, sub, "suspended")
    assert record.status == "suspended"
    assert len(patches) == 2
    assert patches[0].headers["MS-RequestId"] == patches[1].headers["MS-RequestId"]
    assert patches[0].content == patches[1].content
    logged = _patches_in_log(sandbox)
    assert [(e.dropped, e.state_changed, e.replayed) for e in logged] == [
        (True, True, False),
        (False, False, True),
    ]
    assert sandbox.request_log.changes_applied_twice() == []
