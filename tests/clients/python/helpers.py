"""Shared helpers for the PyPI client-library tests: start the real `mailsnare` binary on
ephemeral ports and send mail to it with smtplib.

The binary is $MAILSNARE_BIN, else <repo>/target/debug/mailsnare (build it with `cargo build`).
The same approach as ../server.mjs for the npm clients.
"""

from __future__ import annotations

import base64
import copy
import email.policy
import io
import os
import re
import signal
import smtplib
import subprocess
import threading
import urllib.request
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import EmailMessage
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("MAILSNARE_BIN") or REPO / "target" / "debug" / "mailsnare")
STARTUP_TIMEOUT_S = 20
HELO = "client.python.test"


class Server:
    """A running mailsnare: `--smtp 127.0.0.1:0 --http 127.0.0.1:0` plus extra arguments.

    The ports are taken from the `SMTP listening on` / `HTTP listening on` lines it logs on stderr,
    which a thread keeps reading (so the pipe never fills) and signals as soon as both are there.
    """

    def __init__(self, extra_args: list[str] = ()):
        if not BIN.exists():
            raise RuntimeError(f"mailsnare binary not found at {BIN}: run `cargo build` or set MAILSNARE_BIN")
        # No inherited MAILSNARE_*/MP_*/MH_* settings: each test module names what it wants.
        env = {k: v for k, v in os.environ.items() if not re.match(r"^(MAILSNARE_|MP_|MH_)", k)}
        self.args = [str(BIN), "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", *extra_args]
        self.proc = subprocess.Popen(
            self.args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.log = ""
        self.smtp_port: int | None = None
        self.http_port: int | None = None
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        # Set on both ports, or on EOF (the process exited): no fixed sleep, a bounded wait.
        if not self._ready.wait(STARTUP_TIMEOUT_S) or self.http_port is None or self.smtp_port is None:
            self.stop()
            raise RuntimeError(
                f"mailsnare did not report both listeners within {STARTUP_TIMEOUT_S} s "
                f"(exit code {self.proc.poll()}); stderr:\n{self.log}"
            )
        self.base_url = f"http://127.0.0.1:{self.http_port}"

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            self.log += line
            if self.smtp_port is None:
                m = re.search(r"SMTP listening on 127\.0\.0\.1:(\d+)", line)
                if m:
                    self.smtp_port = int(m.group(1))
            if self.http_port is None:
                m = re.search(r"HTTP listening on 127\.0\.0\.1:(\d+)", line)
                if m:
                    self.http_port = int(m.group(1))
            if self.smtp_port and self.http_port:
                self._ready.set()
        self._ready.set()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)


# ---------------------------------------------------------------------------------------------
# Mail


def wire_bytes(msg: EmailMessage) -> bytes:
    """The exact bytes sent: the message with CRLF line ends and no Bcc header (as smtplib's
    send_message would send it)."""
    msg = _copy(msg)
    del msg["Bcc"]
    buf = io.BytesIO()
    BytesGenerator(buf, policy=email.policy.SMTP).flatten(msg)
    return buf.getvalue()


def _copy(msg: EmailMessage) -> EmailMessage:
    return copy.deepcopy(msg)


def send_raw(server: Server, mail_from: str, rcpts: list[str], wire: bytes) -> str:
    """Sends `wire` over SMTP with an explicit envelope; returns the stored message's ID from the
    `250 ... queued as <ID>` reply. A 250 means the message is stored and listed: no polling."""
    with smtplib.SMTP("127.0.0.1", server.smtp_port, local_hostname=HELO, timeout=20) as smtp:
        code, reply = smtp.ehlo()
        assert code == 250, reply
        code, reply = smtp.mail(mail_from)
        assert code == 250, reply
        for rcpt in rcpts:
            code, reply = smtp.rcpt(rcpt)
            assert code == 250, (rcpt, reply)
        code, reply = smtp.data(wire)
        assert code == 250, reply
    m = re.search(rb"queued as ([0-9a-f-]{36})", reply)
    assert m, reply
    return m.group(1).decode()


def send(server: Server, msg: EmailMessage) -> tuple[str, bytes]:
    """Sends an EmailMessage with smtplib: envelope sender its From address, recipients every
    To, Cc and Bcc address (in that order). Returns (stored ID, bytes sent)."""
    from email.utils import getaddresses, parseaddr

    rcpts = [a for _, a in getaddresses(msg.get_all("To", []) + msg.get_all("Cc", []) + msg.get_all("Bcc", []))]
    wire = wire_bytes(msg)
    return send_raw(server, parseaddr(str(msg["From"]))[1], rcpts, wire), wire


def simple(subject: str, *, frm="sender@example.com", to="rcpt@example.net", body=None, **headers) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = frm
    msg["To"] = to
    if subject is not None:
        msg["Subject"] = subject
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content(body if body is not None else f"body of {subject}\n")
    return msg


# A valid 1x1 PNG.
PNG_1x1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@dataclass
class Rich:
    """The multipart message most tests look at, and what is known about it."""

    SUBJECT = "Grüße aus Köln ✓ 日本語"
    FROM_NAME = "Zoë Sender"
    FROM = "zoe@example.com"
    TO = [("Bob", "bob@example.net"), ("", "carol@example.org")]
    CC = [("Dave", "dave@example.com")]
    BCC = "eve@example.com"
    RCPTS = ["bob@example.net", "carol@example.org", "dave@example.com", "eve@example.com"]
    MESSAGE_ID = "python-client-rich@mailsnare.test"
    DATE = "Wed, 15 Jan 2025 09:30:00 +0100"
    TEXT = "Hello Bob,\nplain text part ✓\n"
    HTML = '<p>Hello <b>Bob</b> ✓ <img src="cid:logo@mailsnare.test"></p>\n'
    NOTES = "Grüße\nsecond line\n".encode()
    # Every byte value, twice: no text codec round-trips it.
    BLOB = bytes(range(256)) * 2

    msg: EmailMessage = field(default_factory=EmailMessage)
    wire: bytes = b""
    id: str = ""


def rich_message() -> EmailMessage:
    """multipart/mixed [ multipart/alternative [ text/plain (quoted-printable),
    multipart/related [ text/html (base64), image/png inline ] ], notes.txt, blob.bin ]
    with a UTF-8 subject (RFC 2047), To, Cc, Bcc, a repeated and a custom header."""
    msg = EmailMessage()
    msg["From"] = f"{Rich.FROM_NAME} <{Rich.FROM}>"
    msg["To"] = ", ".join(f"{n} <{a}>" if n else a for n, a in Rich.TO)
    msg["Cc"] = ", ".join(f"{n} <{a}>" for n, a in Rich.CC)
    msg["Bcc"] = Rich.BCC
    msg["Subject"] = Rich.SUBJECT
    msg["Message-ID"] = f"<{Rich.MESSAGE_ID}>"
    msg["Date"] = Rich.DATE
    # mailpit-api-client's Headers model requires a Delivered-To header (see the headers test).
    msg["Delivered-To"] = "bob@example.net"
    msg["X-Custom-Header"] = "custom value"
    msg["X-Repeated"] = "one"
    msg["X-Repeated"] = "two"
    msg.set_content(Rich.TEXT, cte="quoted-printable")
    msg.add_alternative(Rich.HTML, subtype="html", cte="base64")
    msg.get_payload()[1].add_related(
        PNG_1x1, maintype="image", subtype="png", cid="<logo@mailsnare.test>", filename="logo.png", disposition="inline"
    )
    msg.add_attachment(Rich.NOTES, maintype="text", subtype="plain", filename="notes.txt")
    msg.add_attachment(Rich.BLOB, maintype="application", subtype="octet-stream", filename="blob.bin")
    # Known boundaries (the generator would pick random ones only when flattening).
    alternative = msg.get_payload()[0]
    msg.set_boundary("=_mixed_mailsnare_python")
    alternative.set_boundary("=_alternative_mailsnare_python")
    alternative.get_payload()[1].set_boundary("=_related_mailsnare_python")
    return msg


def send_rich(server: Server) -> Rich:
    msg = rich_message()
    rich = Rich(msg=msg)
    rich.id, rich.wire = send(server, msg)
    assert b"\r\nBcc:" not in rich.wire and not rich.wire.startswith(b"Bcc:")
    return rich


def header_block(wire: bytes) -> bytes:
    return wire.split(b"\r\n\r\n", 1)[0] + b"\r\n"


def wire_header(wire: bytes, name: str) -> list[str]:
    """Every value of a top-level header as sent, unfolded the way Go's textproto does (a folded
    line joined with one space)."""
    values = []
    for m in re.finditer(rb"^" + re.escape(name.encode()) + rb":[ \t]*(.*?)\r\n(?![ \t])", header_block(wire), re.M | re.S | re.I):
        values.append(re.sub(r"\r\n[ \t]+", " ", m.group(1).decode()))
    return values


def assert_trace_then_wire(stored: bytes, wire: bytes, *, mail_from: str, bcc: list[str]) -> bytes:
    """`stored` is the trace headers Mailpit puts on top (Return-Path, Received, and a Bcc naming
    the envelope recipients no header names), then `wire` byte for byte. Returns the trace."""
    assert stored.endswith(wire), stored[:600]
    trace = stored[: len(stored) - len(wire)]
    shape = (
        rb"Return-Path: <" + re.escape(mail_from.encode()) + rb">\r\n"
        rb"Received: from " + re.escape(HELO.encode()) + rb" \(\[127\.0\.0\.1\]\)\r\n"
        rb"\tby mailsnare \(mailsnare\) with ESMTP id [0-9a-f-]{36}(\r\n\tfor <[^>]+>)?; [^\r\n]+\r\n"
        + (rb"Bcc: " + re.escape(", ".join(bcc).encode()) + rb"\r\n" if bcc else b"")
    )
    assert re.fullmatch(shape, trace), trace
    return trace


def split_parts(body: bytes, boundary: str) -> list[bytes]:
    """The parts of a multipart body as RFC 2046 delimits them: each part's text runs from after its
    delimiter line to the CRLF before the next delimiter (that CRLF belongs to the delimiter)."""
    pieces = (b"\r\n" + body).split(b"\r\n--" + boundary.encode())
    assert pieces[-1].startswith(b"--"), "the close delimiter ends the body"
    parts = pieces[1:-1]
    assert all(p.startswith(b"\r\n") for p in parts)
    return [p[2:] for p in parts]


def mailhog_headers(block: bytes) -> dict[str, list[str]]:
    """A header block the way MailHog's ContentFromString reads it: names as sent, a continuation
    line appended as it is (its leading white space kept, no CRLF), every value in order (MailHog
    itself keeps only the last of a repeated header; mailsnare keeps them all, see the README)."""
    headers: dict[str, list[str]] = {}
    last = None
    for line in block.decode().split("\r\n"):
        if last is not None and line[:1] in (" ", "\t"):
            headers[last][-1] += line
        elif ": " in line:
            name, value = line.split(": ", 1)
            headers.setdefault(name, []).append(value)
            last = name
    return headers


def stored_raw(server: Server, message_id: str) -> bytes:
    """The stored message, byte for byte (Mailpit's GET /api/v1/message/{ID}/raw)."""
    with urllib.request.urlopen(f"{server.base_url}/api/v1/message/{message_id}/raw", timeout=10) as res:
        assert res.status == 200
        return res.read()
