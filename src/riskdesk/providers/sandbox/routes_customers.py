"""The sandbox's customers and subscriptions: listing, reading, and PATCHing a status."""

from __future__ import annotations

from fastapi import FastAPI, Request

from riskdesk.providers.records import Customer, ResourceAttributes, Subscription, wire_alias
from riskdesk.providers.sandbox import inputs
from riskdesk.providers.sandbox.journal import note_change
from riskdesk.providers.sandbox.state import SandboxState, new_etag
from riskdesk.providers.sandbox.wire import ApiError, Codes, wire


def register(app: FastAPI, state: SandboxState) -> None:
    """Add the customer and subscription routes over `state` to `app`."""

    def customer_or_404(customer_id: str) -> Customer:
        customer = state.customers.get(customer_id)
        if customer is None:
            raise ApiError(404, Codes.CUSTOMER_NOT_FOUND, f"customer {customer_id} was not found")
        return customer

    def subscription_or_404(customer_id: str, subscription_id: str) -> Subscription:
        customer_or_404(customer_id)
        subscription = state.subscription(customer_id, subscription_id)
        if subscription is None:
            raise ApiError(
                404,
                Codes.SUBSCRIPTION_NOT_FOUND,
                f"subscription {subscription_id} of customer {customer_id} was not found",
            )
        return subscription

    @app.get("/v1/customers")
    def list_customers(request: Request):
        return inputs.paged(request, state.customer_list(), wire, default_size=100, max_size=100)

    @app.get("/v1/customers/{customer_id}")
    def get_customer(customer_id: str):
        with state.lock:
            return wire(customer_or_404(customer_id))

    @app.get("/v1/customers/{customer_id}/subscriptions")
    def list_subscriptions(request: Request, customer_id: str):
        with state.lock:
            customer_or_404(customer_id)
            items = list(state.subscriptions.get(customer_id, {}).values())
        return inputs.paged(request, items, wire, default_size=100, max_size=100)

    @app.get("/v1/customers/{customer_id}/subscriptions/{subscription_id}")
    def get_subscription(customer_id: str, subscription_id: str):
        with state.lock:
            return wire(subscription_or_404(customer_id, subscription_id))

    @app.patch("/v1/customers/{customer_id}/subscriptions/{subscription_id}")
    async def patch_subscription(request: Request, customer_id: str, subscription_id: str):
        body = await inputs.body(request, Subscription)
        with state.lock:
            current = subscription_or_404(customer_id, subscription_id)
            check_etag(current, request.headers.get("If-Match"), body)
            updated = apply_subscription_patch(current, body)
            if updated is not current:
                state.subscriptions[customer_id][subscription_id] = updated
                note_change(f"subscription {subscription_id}: {current.status} -> {updated.status}")
                state.save()
            return wire(updated)


# ---------------------------------------------------------------------- PATCH semantics


def _etag_value(text: str) -> str:
    text = text.strip()
    if text.startswith("W/"):
        text = text[2:]
    return text.strip('"')


def check_etag(current: Subscription, if_match: str | None, body: Subscription) -> None:
    """A stale etag (the `If-Match` header, else the body's `attributes.etag`) is a 412.

    Partner Center's error codes page: "412: Precondition failed ... used when optimistic
    concurrency detection is implemented using an If-Match header", with error code 2055 "Etag
    is no longer valid". `If-Match: *` matches any etag; a body without an etag is not checked.
    """
    etag = current.attributes.etag if current.attributes else None
    if if_match is not None and if_match.strip():
        sent = [_etag_value(part) for part in if_match.split(",")]
        if "*" in sent or etag is None or etag in sent:
            return
    else:
        given = body.attributes.etag if body.attributes else None
        if given is None or etag is None or _etag_value(given) == etag:
            return
    raise ApiError(
        412,
        Codes.ETAG_NO_LONGER_VALID,
        f"Etag is no longer valid: subscription {current.id} was changed since it was read "
        f"(its etag is now {etag}); read it again",
    )


# Fields the server owns: a client sending them back changed is not asking for a change.
# Compared lower-cased with underscores dropped, since unknown keys keep the case they came in.
_SERVER_FIELDS = {"status", "attributes", "suspensionreasons", "links"}
_STATUSES_SETTABLE = {"active", "suspended"}


def apply_subscription_patch(current: Subscription, body: Subscription) -> Subscription:
    """The subscription after a PATCH with `body`; `current` itself when nothing changes.

    The body is the whole subscription resource, as the documentation asks (page
    ``suspend-a-subscription``: PascalCase keys, no ``offerId``); keys are read in any case
    and fields the body leaves out are left as they are. Only `status` may change
    (`active` <-> `suspended`). Any other field present in the body with another value is a
    400; a deleted subscription is a 409.
    """
    if body.id.lower() != current.id.lower():
        raise ApiError(
            400,
            Codes.READ_ONLY_FIELD,
            f"the body's id {body.id!r} does not match the subscription {current.id!r}",
        )
    now = current.model_dump(mode="json", by_alias=False)
    sent = body.model_dump(mode="json", by_alias=False, exclude_unset=True)
    changed = sorted(
        name
        for name, value in sent.items()
        if name.replace("_", "").lower() not in _SERVER_FIELDS and now.get(name) != value
    )
    if changed:
        names = ", ".join(wire_alias(Subscription, n) if n in Subscription.model_fields else n
                          for n in changed)  # fmt: skip
        raise ApiError(
            400,
            Codes.READ_ONLY_FIELD,
            f"only status can be changed on a subscription; the request also changes: {names}",
        )
    if current.status == "deleted":
        raise ApiError(
            409,
            Codes.SUBSCRIPTION_DELETED,
            f"subscription {current.id} is deleted and cannot be changed",
        )
    if body.status not in _STATUSES_SETTABLE:
        raise ApiError(
            400,
            Codes.INVALID_STATUS,
            f"status can be set to active or suspended, not {body.status!r}",
        )
    if body.status == current.status:
        return current
    if current.status not in _STATUSES_SETTABLE:
        raise ApiError(
            409,
            Codes.INVALID_STATUS,
            f"subscription {current.id} is {current.status} and cannot be {body.status}",
        )
    reasons = ["PartnerInitiated"] if body.status == "suspended" else None
    attributes = (current.attributes or ResourceAttributes()).model_copy(
        update={"etag": new_etag(), "object_type": "Subscription"}
    )
    attributes.model_fields_set.update({"etag", "object_type"})
    updated = current.model_copy(
        update={"status": body.status, "suspension_reasons": reasons, "attributes": attributes}
    )
    updated.model_fields_set.update({"status", "attributes"})
    if reasons:
        updated.model_fields_set.add("suspension_reasons")
    else:
        updated.model_fields_set.discard("suspension_reasons")
    return updated
