"""Notices rendered from the templates and delivered to a real SMTP server."""

from __future__ import annotations

import contextlib
import socket
import threading
from datetime import date
from decimal import Decimal
from email import message_from_bytes, policy

import pytest

from mail_helpers import SmtpServer, free_port
from riskdesk.errors import ConfigError
from riskdesk.money import Money
from riskdesk.notify.mail import (
    PermanentMailError,
    SmtpMailer,
    TransientMailError,
    UncertainMailError,
)
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


# --------------------------------------------------------------------------- lost replies


class ForgetfulSmtpServer:
    """A real SMTP server on a loopback socket that keeps every message it is sent, but
    misbehaves once, on the first message:

    * ``after_data="hang_up"``: closes the connection instead of the final 250 reply;
    * ``after_data="silence"``: keeps the connection open and never replies (a timeout);
    * ``after_data=b"554 ..."``: a real final reply (a refusal);
    * ``hang_up_at=b"RCPT"`` (or another verb): closes the connection when that command
      arrives, before any message data.

    Later connections are served normally (``250`` after the data).
    """

    def __init__(self, after_data: str | bytes | None = "hang_up", hang_up_at: bytes = b"") -> None:
        self.after_data = after_data
        self.hang_up_at = hang_up_at
        self.received: list[bytes] = []
        self._misbehaved = False
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def messages(self):
        return [message_from_bytes(raw, policy=policy.default) for raw in self.received]

    def __enter__(self) -> ForgetfulSmtpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            connection.settimeout(None)
            self._connections.append(connection)
            threading.Thread(target=self._session, args=(connection,), daemon=True).start()

    def _misbehave_now(self) -> bool:
        first, self._misbehaved = not self._misbehaved, True
        return first

    def _session(self, connection: socket.socket) -> None:
        try:
            with connection.makefile("rb") as lines:
                connection.sendall(b"220 forgetful ESMTP\r\n")
                for line in iter(lines.readline, b""):
                    verb = line[:4].upper()
                    if verb == self.hang_up_at and self._misbehave_now():
                        return
                    if verb == b"QUIT":
                        connection.sendall(b"221 bye\r\n")
                        return
                    if verb != b"DATA":
                        connection.sendall(b"250 ok\r\n")  # EHLO, MAIL, RCPT, RSET, NOOP
                        continue
                    connection.sendall(b"354 go ahead\r\n")
                    data = []
                    for part in iter(lines.readline, b""):
                        if part == b".\r\n":
                            break
                        data.append(part[1:] if part.startswith(b"..") else part)
                    self.received.append(b"".join(data))  # the message is the server's now
                    if self.after_data and not self.hang_up_at and self._misbehave_now():
                        if self.after_data == "hang_up":
                            return
                        if self.after_data == "silence":
                            lines.read()  # until the client gives up and hangs up
                            return
                        connection.sendall(self.after_data + b"\r\n")
                        continue
                    connection.sendall(b"250 queued\r\n")
        except OSError:
            pass
        finally:
            connection.close()


def _reminder(message_id="<r.1@rd>"):
    notice = render_notice(
        "reminder", customer_name="x", stage=None, invoices=[], as_of=date.today()
    )
    return build_message(notice, to="a@b.example", sender="s@r.example", message_id=message_id)


@pytest.mark.parametrize("after_data", ["hang_up", "silence"])
def test_a_reply_lost_after_the_message_data_is_uncertain_not_transient(after_data):
    with ForgetfulSmtpServer(after_data=after_data) as server:
        mailer = SmtpMailer("127.0.0.1", server.port, sender="s@r.example", timeout=1)
        with pytest.raises(UncertainMailError, match=r"<r\.1@rd>.*uncertain") as caught:
            mailer.send(_reminder())
        assert not isinstance(caught.value, TransientMailError | PermanentMailError)
        # The server has the message although the client never heard so.
        assert [m["Message-ID"] for m in server.messages] == ["<r.1@rd>"]


@pytest.mark.parametrize("verb", [b"EHLO", b"MAIL", b"RCPT", b"DATA"])
def test_a_connection_lost_before_the_message_data_stays_transient(verb):
    with ForgetfulSmtpServer(hang_up_at=verb) as server:
        mailer = SmtpMailer("127.0.0.1", server.port, sender="s@r.example", timeout=1)
        with pytest.raises(TransientMailError):
            mailer.send(_reminder())
        assert server.received == []
        mailer.send(_reminder())  # the next connection is served: a retry delivers once
        assert len(server.received) == 1


@pytest.mark.parametrize(
    ("reply", "error"),
    [(b"451 try again later", TransientMailError), (b"554 rejected", PermanentMailError)],
)
def test_a_final_reply_refusing_the_data_is_definite(reply, error):
    with ForgetfulSmtpServer(after_data=reply) as server:
        mailer = SmtpMailer("127.0.0.1", server.port, sender="s@r.example", timeout=1)
        with pytest.raises(error):
            mailer.send(_reminder())
