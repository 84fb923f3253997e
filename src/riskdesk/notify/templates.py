"""Customer notices rendered from Jinja templates in ``riskdesk/notify/templates/``.

Each notice ``<name>`` has three files: ``<name>.subject.txt``, ``<name>.txt`` (the plain
text part) and ``<name>.html`` (autoescaped). Shipped: ``reminder``, ``final_notice``,
``suspended``, ``reinstated``. Amounts are rendered as money strings (``1,234.50 EUR``),
never floats; totals are per currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound, select_autoescape

from riskdesk.errors import ConfigError
from riskdesk.money import Money
from riskdesk.notify.content import NoticeContent, NoticeInvoice, NoticeSubscription

NOTICES = ("reminder", "final_notice", "suspended", "reinstated")


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    text: str
    html: str


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("riskdesk.notify", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["day"] = lambda d: d.strftime("%d %B %Y").lstrip("0") if d else ""
    return env


def totals(invoices: Iterable[NoticeInvoice]) -> list[Money]:
    """The open amount per currency, in order of first appearance."""
    sums: dict[str, Money] = {}
    for invoice in invoices:
        currency = invoice.open_amount.currency
        sums[currency] = sums.get(currency, Money.zero(currency)) + invoice.open_amount
    return list(sums.values())


def render_notice(
    template: str,
    *,
    customer_name: str,
    stage: str | None,
    invoices: list[NoticeInvoice],
    as_of: date,
    extra: Mapping[str, Any] | None = None,
    subscriptions: list[NoticeSubscription] | None = None,
    all_subscriptions: bool = False,
    still_suspended: bool = False,
    confirms_reinstatement: bool = False,
) -> RenderedNotice:
    """Subject, text and HTML of notice `template` for one customer.

    `subscriptions`: what a suspension or reinstatement notice announces (`all_subscriptions`:
    every live one); `confirms_reinstatement`: the policy confirms a reinstatement by e-mail.

    `extra` may carry: ``company`` (the reseller's name), ``pay_url``, ``contact_email``,
    ``next_step_on`` (the date the next stage applies), ``reference``.
    """
    if template not in NOTICES:
        raise ConfigError(f"unknown notice template {template!r} (known: {', '.join(NOTICES)})")
    extra = dict(extra or {})
    next_step_on = extra.pop("next_step_on", None)
    if isinstance(next_step_on, str):
        next_step_on = date.fromisoformat(next_step_on)
    context = {
        "company": "your cloud services provider",
        "pay_url": None,
        "contact_email": None,
        "reference": None,
        **extra,
        "customer_name": customer_name,
        "stage": stage,
        "invoices": invoices,
        "totals": totals(invoices),
        "as_of": as_of,
        "next_step_on": next_step_on,
        "subscriptions": list(subscriptions or ()),
        "all_subscriptions": all_subscriptions,
        "still_suspended": still_suspended,
        "confirms_reinstatement": confirms_reinstatement,
    }
    env = environment()
    try:
        parts = [
            env.get_template(f"{template}.{suffix}").render(context)
            for suffix in ("subject.txt", "txt", "html")
        ]
    except TemplateNotFound as exc:  # a broken installation, not a user error
        raise ConfigError(f"notice template file {exc.name} is missing") from exc
    return RenderedNotice(subject=" ".join(parts[0].split()), text=parts[1], html=parts[2])


def render_content(
    template: str,
    content: NoticeContent,
    *,
    customer_name: str,
    stage: str | None,
    as_of: date,
    extra: Mapping[str, Any] | None = None,
    confirms_reinstatement: bool = False,
) -> RenderedNotice:
    """`render_notice` of a notice's kept content (see `riskdesk.notify.content`)."""
    return render_notice(
        template,
        customer_name=customer_name,
        stage=stage,
        invoices=content.invoices,
        as_of=as_of,
        extra=extra,
        subscriptions=content.subscriptions,
        all_subscriptions=content.all_subscriptions,
        still_suspended=content.still_suspended,
        confirms_reinstatement=confirms_reinstatement,
    )


def build_message(notice: RenderedNotice, *, to: str, sender: str, message_id: str) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) with the given Message-ID."""
    message = EmailMessage()
    message["Subject"] = notice.subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    message.set_content(notice.text)
    message.add_alternative(notice.html, subtype="html")
    return message
