"""Fuzzing the two parsers of outside text: the policy loader and the sandbox's requests.

The policy loader may refuse anything, but only with a RiskdeskError (a PolicyError naming
the line); the sandbox may refuse any request, but never with a 5xx. Bounded (< 40 s in all)
so it runs with the rest of the suite.
"""

from __future__ import annotations

import contextlib
import json
import string

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collections_builders import STANDARD
from riskdesk.collections.policy import parse_policy
from riskdesk.errors import RiskdeskError
from riskdesk.providers.sandbox import sample_state, start_sandbox
from sandbox_helpers import auth

SHIPPED = STANDARD.read_text()
FUZZ = settings(
    deadline=None,
    max_examples=120,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples every run: a failure is reproducible
)

# --------------------------------------------------------------------------- the policy

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
_yaml_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
_cel_tokens = st.sampled_from(
    [
        "days_past_due",
        "overdue_amount",
        "open_balance",
        "tags",
        "currency",
        "has_promise",
        ">=",
        "<",
        "==",
        "&&",
        "||",
        "!",
        "(",
        ")",
        "[",
        "]",
        ".",
        ",",
        "'x'",
        "1",
        "1.5",
        "-1",
        "1e308",
        "size(tags)",
        "'a' in tags",
        "tags.all(t, t != 'x')",
        "null",
        "true",
        "9223372036854775807",
        "duration('1d')",
        "timestamp('2025-01-01T00:00:00Z')",
        "\\",
        '"',
        "'",
        "{",
        "}",
        "?",
        ":",
        "int(",
        "double(",
        "/",
        "%",
        "0",
    ]
)
_conditions = st.lists(_cel_tokens, min_size=1, max_size=12).map(" ".join)


def _policy_with(stages: list[dict]) -> str:
    head = SHIPPED.split("stages:")[0]
    return head + yaml.safe_dump({"stages": stages}, allow_unicode=True)


_stage = st.fixed_dictionaries(
    {
        "name": st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
        "title": st.text(max_size=10),
        "when": _conditions,
    },
    optional={"actions": st.lists(_yaml_values, max_size=3)},
)


def _mutated(text: str, edits: list[tuple[int, str]]) -> str:
    for at, piece in edits:
        at %= len(text) + 1
        text = text[:at] + piece + text[at + len(piece) // 2 :]
    return text


_policy_texts = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    _yaml_values.map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
    st.dictionaries(
        st.sampled_from(
            [
                "name",
                "stages",
                "grace_days",
                "approval_threshold",
                "exempt_tags",
                "max_suspensions_per_run",
            ]
        ),
        _yaml_values,
    ).map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    st.lists(_stage, min_size=1, max_size=6).map(_policy_with),
    st.lists(
        st.tuples(
            st.integers(min_value=0), st.text(alphabet=string.printable + "\x00\t", max_size=8)
        ),
        min_size=1,
        max_size=5,
    ).map(lambda edits: _mutated(SHIPPED, edits)),
    st.integers(min_value=1, max_value=1500).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=1, max_value=1500).map(lambda n: "a: " * n + "1"),
    st.integers(min_value=1, max_value=200).map(lambda n: "&a [" * n + "]" * n),
)


@FUZZ
@given(text=_policy_texts)
def test_the_policy_loader_refuses_only_with_a_riskdesk_error(text):
    with contextlib.suppress(RiskdeskError):  # refused: fine; anything else fails the test
        parse_policy(text, source="fuzz.yaml")


# --------------------------------------------------------------------------- the sandbox


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox(sample_state(seed=1)) as server:
        yield server


@pytest.fixture(scope="module")
def client(sandbox):
    with httpx.Client(timeout=10) as client:
        yield client


_segment = st.one_of(
    st.sampled_from(["x", "en-US", "status", "lineitems", "supporttopics", "..", "%00", "%ff"]),
    st.text(alphabet=string.ascii_letters + string.digits + "-_.~%", min_size=1, max_size=12),
)
_paths = st.one_of(
    st.sampled_from(
        [
            "/v1/customers",
            "/v1/customers/{a}",
            "/v1/customers/{a}/subscriptions",
            "/v1/customers/{a}/subscriptions/{b}",
            "/v1/invoices",
            "/v1/invoices/{a}/lineitems",
            "/v1/fraudEvents",
            "/v1/fraudEvents/subscription/{a}/status",
            "/v1/servicerequests",
            "/v1/servicerequests/{a}",
            "/v1/servicerequests/supporttopics",
        ]
    ),
    st.lists(_segment, max_size=5).map(lambda parts: "/v1/" + "/".join(parts)),
)
_query = st.dictionaries(
    st.sampled_from(
        [
            "size",
            "seekOperation",
            "provider",
            "invoicelineitemtype",
            "currencycode",
            "period",
            "filter",
            "x",
            "SIZE",
        ]
    ),
    st.one_of(st.text(max_size=12), st.integers(-(10**20), 10**20).map(str)),
    max_size=4,
)
_json_bodies = st.recursive(
    _scalars | st.decimals(allow_nan=False, allow_infinity=False).map(str),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "status",
                    "eventIds",
                    "eventStatus",
                    "resolvedReason",
                    "title",
                    "description",
                    "severity",
                    "supportTopicId",
                    "quantity",
                    "id",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
).map(lambda v: json.dumps(v).encode())
_bodies = st.one_of(
    st.none(),
    st.binary(max_size=200),
    _json_bodies,
    st.integers(min_value=1, max_value=50_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=5_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
)


@settings(FUZZ, max_examples=300)
@given(
    method=st.sampled_from(["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"]),
    path=_paths,
    ids=st.tuples(_segment, _segment),
    params=_query,
    body=_bodies,
    token=st.sampled_from(["good", "good", "good", "bad", "none"]),
    continuation=st.one_of(st.none(), st.text(alphabet=string.printable.strip(), max_size=40)),
)
def test_the_sandbox_never_answers_5xx(
    sandbox, client, method, path, ids, params, body, token, continuation
):
    headers = {"good": auth(sandbox.token), "bad": auth("nope"), "none": {}}[token]
    if continuation is not None:
        headers = {**headers, "MS-ContinuationToken": continuation}
    if body is not None:
        headers = {**headers, "Content-Type": "application/json"}
    url = sandbox.base_url + path.format(a=ids[0], b=ids[1])
    response = client.request(method, url, params=params, content=body, headers=headers)
    assert response.status_code < 500, (method, url, params, body, response.text[:300])


_BODY_ROUTES = [
    ("PATCH", "/v1/customers/{a}/subscriptions/{b}"),
    ("POST", "/v1/fraudEvents/subscription/{a}/status"),
    ("POST", "/v1/servicerequests/en-US"),
]


@settings(FUZZ, max_examples=200)
@given(route=st.sampled_from(_BODY_ROUTES), ids=st.tuples(_segment, _segment), body=_bodies)
def test_the_sandbox_never_answers_5xx_to_a_body(sandbox, client, route, ids, body):
    method, path = route
    url = sandbox.base_url + path.format(a=ids[0], b=ids[1])
    headers = {**auth(sandbox.token), "Content-Type": "application/json"}
    response = client.request(method, url, content=body, headers=headers)
    assert response.status_code < 500, (method, url, body, response.text[:300])
