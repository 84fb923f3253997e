"""Sending e-mail: the `Mailer` protocol, an SMTP implementation and its settings.

Settings come from the environment (``RISKDESK_SMTP_HOST``, ``_PORT``, ``_USERNAME``,
``_PASSWORD``, ``_STARTTLS``, ``_SSL``, ``_SENDER``, ``_TIMEOUT``). The password is kept out of
every repr, log line and error message.

Errors are sorted the way the executor needs them::

    MailError
     ├── TransientMailError   connection refused/lost, timeout, a 4xx reply: try again later
     ├── PermanentMailError   a 5xx reply (recipient refused, message rejected), bad address
     └── UncertainMailError   the connection failed after the message data began to go out
                              (during the transfer or while waiting for the server's final
                              reply): the server may have accepted it, so sending it again
                              may deliver it twice

The first two mean the server did not take the message. The SMTP conversation is followed
phase by phase so the line can be drawn: a failure before the server accepts the DATA command
(connect, EHLO, login, MAIL FROM, RCPT TO, DATA itself) is transient or permanent; after it,
only an explicit 4xx/5xx final reply says the message was refused.
"""

from __future__ import annotations

import logging
import mailbox
import os
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol, runtime_checkable

from riskdesk.errors import ConfigError, UnavailableError

log = logging.getLogger(__name__)

ENV_PREFIX = "RISKDESK_SMTP_"


class MailError(UnavailableError):
    pass


class TransientMailError(MailError):
    pass


class PermanentMailError(MailError):
    pass


class UncertainMailError(MailError):
    """The message may or may not have been delivered: do not send it again unchecked."""


class _Smtp(smtplib.SMTP):
    """`smtplib.SMTP` that notes when the message data began to go out.

    `data` is smtplib's own, split where smtplib does not tell the phases apart: a lost
    connection while waiting for the reply to DATA (nothing sent yet) and one while sending
    the data or waiting for the final reply (the server may have the whole message).
    """

    data_started = False

    # typeshed types msg as Buffer (collections.abc.Buffer is 3.12+); send_message passes bytes.
    def data(self, msg: bytes | str) -> tuple[int, bytes]:  # type: ignore[override]
        code, reply = self.docmd("DATA")
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        self.data_started = True
        if isinstance(msg, str):  # send_message always passes bytes
            msg = msg.encode("ascii")
        payload = re.sub(rb"(?m)^\.", b"..", msg)  # dot-stuffing (RFC 5321 4.5.2)
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        self.send(payload + b".\r\n")
        return self.getreply()


class _SmtpSsl(smtplib.SMTP_SSL, _Smtp):
    """Implicit TLS, with `_Smtp.data`."""


@runtime_checkable
class Mailer(Protocol):
    sender: str

    def send(self, message: EmailMessage) -> None:
        """Hand `message` to the mail system, or raise a `MailError`."""
        ...


@dataclass
class SmtpMailer:
    """Sends through an SMTP server with smtplib: plain, STARTTLS or implicit TLS (``ssl``)."""

    host: str
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False
    sender: str = "riskdesk@localhost"
    timeout: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SmtpMailer:
        env = os.environ if env is None else env

        def get(key: str) -> str | None:
            value = env.get(ENV_PREFIX + key)
            return value if value not in (None, "") else None

        def flag(key: str) -> bool:
            value = (get(key) or "false").lower()
            if value not in ("1", "0", "true", "false", "yes", "no"):
                raise ConfigError(f"environment variable {ENV_PREFIX}{key}: expected true/false")
            return value in ("1", "true", "yes")

        host = get("HOST")
        if not host:
            raise ConfigError(f"mail needs {ENV_PREFIX}HOST (the SMTP server)")
        try:
            port = int(get("PORT") or 25)
            timeout = float(get("TIMEOUT") or 30)
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}PORT / {ENV_PREFIX}TIMEOUT must be numbers") from None
        return cls(
            host=host,
            port=port,
            username=get("USERNAME"),
            password=get("PASSWORD"),
            starttls=flag("STARTTLS"),
            ssl=flag("SSL"),
            sender=get("SENDER") or "riskdesk@localhost",
            timeout=timeout,
        )

    def _connect(self) -> _Smtp:
        if self.ssl:
            return _SmtpSsl(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        smtp = _Smtp(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        if "From" not in message:
            message["From"] = self.sender
        where = f"SMTP {self.host}:{self.port}"
        smtp: _Smtp | None = None
        try:
            smtp = self._connect()
            if self.username:
                smtp.login(self.username, self.password or "")
            refused = smtp.send_message(message)
        except Exception as exc:
            if smtp is not None:
                _hang_up(smtp)
                if smtp.data_started and not _refused_outright(exc):
                    raise UncertainMailError(
                        f"{where}: delivery of {message['Message-ID']} uncertain: the "
                        f"connection failed after the message data began to go out, before "
                        f"the server confirmed it ({type(exc).__name__}: {exc}); the server "
                        f"may have accepted it"
                    ) from exc
            sorted_error = self._sorted(where, exc)
            if sorted_error is None:
                raise
            raise sorted_error from exc
        # The server took the message: nothing after this may look like a failure to send.
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError) as exc:
            log.warning("%s: message accepted, then QUIT failed: %s", where, exc)
        finally:
            smtp.close()
        if refused:
            # Some recipients accepted, some not: what was sent cannot be unsent.
            log.warning("%s: some recipients refused: %s", where, sorted(refused))
        log.info("sent %s to %s via %s", message["Message-ID"], message["To"], where)

    def _sorted(self, where: str, exc: Exception) -> MailError | None:
        """The transient or permanent `MailError` for a failure the server answered or that
        came before the data went out; None for anything else (raised as it is)."""
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return PermanentMailError(f"{where}: login as {self.username!r} refused")
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            cls = TransientMailError if all(400 <= c < 500 for c in codes) else PermanentMailError
            return cls(f"{where}: recipients refused: {sorted(exc.recipients)}")
        if isinstance(exc, smtplib.SMTPResponseException):
            cls = TransientMailError if 400 <= exc.smtp_code < 500 else PermanentMailError
            return cls(f"{where}: {exc.smtp_code} {exc.smtp_error!r}")
        if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
            return TransientMailError(f"{where}: {exc}")
        if isinstance(exc, smtplib.SMTPException):  # before OSError, its base class
            return PermanentMailError(f"{where}: {exc}")
        if isinstance(exc, OSError):  # refused, reset, timeout, name resolution
            return TransientMailError(f"{where}: {exc}")
        return None


def _refused_outright(exc: Exception) -> bool:
    """A 4xx/5xx final reply: the server said it did not take the message."""
    return isinstance(exc, smtplib.SMTPResponseException) and 400 <= exc.smtp_code < 600


def _hang_up(smtp: smtplib.SMTP) -> None:
    """QUIT politely if the connection still answers, and close it in any case."""
    try:
        if smtp.sock is not None:
            smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


class MaildirMailer:
    """Delivers into a local Maildir folder instead of an SMTP server.

    For demos and dry rehearsals: every notice riskdesk would send is a real, complete message
    a person can open (`mutt -f DIR`, or any mail client that reads Maildir).
    """

    def __init__(self, directory: str | os.PathLike[str], sender: str = "riskdesk@localhost"):
        self.directory = Path(directory)
        self.sender = sender

    def __repr__(self) -> str:
        return f"MaildirMailer({str(self.directory)!r})"

    def send(self, message: EmailMessage) -> None:
        try:
            mailbox.Maildir(self.directory, create=True).add(message)
        except OSError as exc:
            raise TransientMailError(f"cannot write to maildir {self.directory}: {exc}") from exc


def mailer_from_env(env: Mapping[str, str] | None = None) -> Mailer:
    """SMTP when RISKDESK_SMTP_HOST is set; else a Maildir at RISKDESK_MAIL_DIR; else an error."""
    env = os.environ if env is None else env
    if env.get(ENV_PREFIX + "HOST"):
        return SmtpMailer.from_env(env)
    directory = env.get("RISKDESK_MAIL_DIR")
    if directory:
        return MaildirMailer(
            directory, sender=env.get(ENV_PREFIX + "SENDER") or "riskdesk@localhost"
        )
    raise ConfigError(
        f"mail is not configured: set {ENV_PREFIX}HOST (an SMTP server) or RISKDESK_MAIL_DIR "
        "(a local Maildir folder)"
    )
