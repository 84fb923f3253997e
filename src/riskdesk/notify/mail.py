"""Sending e-mail: the `Mailer` protocol, an SMTP implementation and its settings.

Settings come from the environment (``RISKDESK_SMTP_HOST``, ``_PORT``, ``_USERNAME``,
``_PASSWORD``, ``_STARTTLS``, ``_SSL``, ``_SENDER``, ``_TIMEOUT``). The password is kept out of
every repr, log line and error message.

Errors are sorted the way the executor needs them::

    MailError
     ├── TransientMailError   connection refused/lost, timeout, a 4xx reply: try again later
     └── PermanentMailError   a 5xx reply (recipient refused, message rejected), bad address
"""

from __future__ import annotations

import logging
import mailbox
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol, runtime_checkable

from riskdesk.errors import ConfigError, RiskdeskError

log = logging.getLogger(__name__)

ENV_PREFIX = "RISKDESK_SMTP_"


class MailError(RiskdeskError):
    pass


class TransientMailError(MailError):
    pass


class PermanentMailError(MailError):
    pass


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

    def _connect(self) -> smtplib.SMTP:
        if self.ssl:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            smtp.starttls(context=ssl.create_default_context())
        return smtp

    def send(self, message: EmailMessage) -> None:
        if "From" not in message:
            message["From"] = self.sender
        where = f"SMTP {self.host}:{self.port}"
        try:
            with self._connect() as smtp:
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentMailError(f"{where}: login as {self.username!r} refused") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            cls = TransientMailError if all(400 <= c < 500 for c in codes) else PermanentMailError
            raise cls(f"{where}: recipients refused: {sorted(exc.recipients)}") from exc
        except smtplib.SMTPResponseException as exc:
            cls = TransientMailError if 400 <= exc.smtp_code < 500 else PermanentMailError
            raise cls(f"{where}: {exc.smtp_code} {exc.smtp_error!r}") from exc
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as exc:
            raise TransientMailError(f"{where}: {exc}") from exc
        except smtplib.SMTPException as exc:  # before OSError, its base class
            raise PermanentMailError(f"{where}: {exc}") from exc
        except OSError as exc:  # refused, reset, timeout, name resolution
            raise TransientMailError(f"{where}: {exc}") from exc
        if refused:
            # Some recipients accepted, some not: what was sent cannot be unsent.
            log.warning("%s: some recipients refused: %s", where, sorted(refused))
        log.info("sent %s to %s via %s", message["Message-ID"], message["To"], where)


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
