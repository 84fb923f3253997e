"""Notices rendered from the templates and delivered to a real SMTP server."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from mail_helpers import SmtpServer, free_port
from riskdesk.errors import ConfigError
from riskdesk.money import Money
from riskdesk.notify.mail import SmtpMailer, TransientMailError
from riskdesk.notify.templates import NOTICES, NoticeInvoice, build_message, render_notice

INVOICES = [
    NoticeInvoice("INV-1001", date(2026, 1, 1), date(2026, 1, 31), Money("1234.5", "EUR"), 45),
    NoticeInvoice("INV-<1002>", date(2026, 2, 1), date(2026, 2, 28), Money("99.99", "EUR"), 17),
]


@pytest.mark.parametrize("template", NOTICES)
def test_every_notice_names_invoices_and_totals_in_both_parts(template):
    notice = render_notice(
        template,
        customer_name="Fabrikam & Sons",
        stage="stage-x",
        invoices=INVOICES,
        as_of=date(2026, 3, 17),
        extra={"pay_url": "https://pay.example/f", "next_step_on": "2026-03-31"},
    )
    assert notice.subject and "\n" not in notice.subject
    for part in (notice.text, notice.html):
        assert "1,234.50 EUR" in part and "99.99 EUR" in part and "1,334.49 EUR" in part
        assert "45" in part and "17" in part
        assert "https://pay.example/f" in part
    assert "INV-<1002>" in notice.text and "Fabrikam & Sons" in notice.text
    assert "INV-&lt;1002&gt;" in notice.html and "Fabrikam &amp; Sons" in notice.html


def test_unknown_template_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown notice template 'nope'"):
        render_notice("nope", customer_name="x", stage=None, invoices=[], as_of=date.today())


def test_smtp_mailer_delivers_both_parts_with_the_message_id():
    notice = render_notice(
        "final_notice",
        customer_name="Fabrikam",
        stage="final",
        invoices=INVOICES,
        as_of=date(2026, 3, 17),
    )
    with SmtpServer() as server:
        mailer = SmtpMailer("127.0.0.1", server.port, sender="ar@reseller.example", timeout=5)
        message = build_message(
            notice, to="billing@fabrikam.example", sender=mailer.sender, message_id="<k.1@rd>"
        )
        mailer.send(message)
    (got,) = server.inbox.messages
    assert got["Message-ID"] == "<k.1@rd>"
    assert server.inbox.envelopes == [("ar@reseller.example", ["billing@fabrikam.example"])]
    text = got.get_body(("plain",)).get_content()
    html = got.get_body(("html",)).get_content()
    for part in (text, html):
        assert "INV-1001" in part and "1,334.49 EUR" in part
    assert Decimal("1334.49") == Decimal("1234.50") + Decimal("99.99")


def test_a_dead_smtp_port_is_a_transient_error():
    mailer = SmtpMailer("127.0.0.1", free_port(), timeout=2)
    message = build_message(
        render_notice("reminder", customer_name="x", stage=None, invoices=[], as_of=date.today()),
        to="a@b.example",
        sender="s@r.example",
        message_id="<x@y>",
    )
    with pytest.raises(TransientMailError):
        mailer.send(message)


def test_settings_from_environment_never_show_the_password():
    mailer = SmtpMailer.from_env(
        {
            "RISKDESK_SMTP_HOST": "smtp.example",
            "RISKDESK_SMTP_PORT": "587",
            "RISKDESK_SMTP_USERNAME": "ar",
            "RISKDESK_SMTP_PASSWORD": "s3cret-value",
            "RISKDESK_SMTP_STARTTLS": "true",
            "RISKDESK_SMTP_SENDER": "ar@reseller.example",
        }
    )
    assert (mailer.host, mailer.port, mailer.starttls, mailer.sender) == (
        "smtp.example",
        587,
        True,
        "ar@reseller.example",
    )
    assert "s3cret-value" not in repr(mailer)
    with pytest.raises(ConfigError, match="RISKDESK_SMTP_HOST"):
        SmtpMailer.from_env({})
