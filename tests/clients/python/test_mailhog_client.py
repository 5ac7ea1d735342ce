"""PyPI `mailhog` (nklsw/mailhog-python) against mailsnare's MailHog API (/api/v2/messages,
/api/v2/search, DELETE /api/v1/messages[/{id}]), with and without --mailhog.

Every public function of the package is called: Mailhog.messages, search, delete and delete_all;
Message.get_sender, get_recipients and get_subject; and the models it decodes into (Messages,
Message, Path, Content, MIMEBody, MIMEContent, MIME). The client's models type headers as
Dict[str, str] and Raw as Optional[str]: dataclass-wizard hands over str() of MailHog's lists and
objects, so those are compared in that form.
"""

from __future__ import annotations

import ast
import base64
import datetime as dt
import smtplib
from email.header import decode_header, make_header

import mailhog
import pytest
import requests
from mailhog.types import MIME, Content, MIMEContent

from helpers import (
    HELO,
    Rich,
    Server,
    assert_trace_then_wire,
    header_block,
    mailhog_headers,
    send,
    send_rich,
    simple,
    split_parts,
    stored_raw,
    wire_bytes,
)


@pytest.fixture(scope="module", params=[(), ("--mailhog",)], ids=["default", "mailhog-switch"])
def server(request):
    srv = Server(list(request.param))
    yield srv
    srv.stop()


@pytest.fixture
def mh(server):
    client = mailhog.Mailhog("127.0.0.1", server.http_port)
    client.delete_all()
    assert client.messages().total == 0
    return client


def path(address: str) -> mailhog.Path:
    mailbox, domain = address.split("@")
    return mailhog.Path(relays=None, mailbox=mailbox, domain=domain, params="")


def as_client_headers(headers: dict[str, list[str]]) -> dict[str, str]:
    return {name: str(values) for name, values in headers.items()}


def subjects(res: mailhog.Messages) -> list[str | None]:
    return [m.get_subject() for m in res.items]


def test_messages_values(server, mh):
    older_id, older_wire = send(server, simple("older", frm="Old <old@example.com>", to="x@example.net"))
    rich = send_rich(server)
    now = dt.datetime.now(dt.timezone.utc)

    res = mh.messages()
    assert isinstance(res, mailhog.Messages)
    assert (res.total, res.count, res.start) == (2, 2, 0)
    assert [m.id for m in res.items] == [rich.id, older_id], "newest first"

    m = res.items[0]
    assert isinstance(m, mailhog.Message)
    assert m.from_ == path(Rich.FROM)
    assert m.to == [path(a) for a in Rich.RCPTS], "every RCPT TO, in order, Bcc included"
    assert m.get_sender() == Rich.FROM
    assert m.get_recipients() == Rich.RCPTS
    # MailHog hands headers over as sent: the subject is still RFC 2047 encoded.
    encoded = "=?utf-8?b?R3LDvMOfZSBhdXMgS8O2bG4g4pyTIOaXpeacrOiqng==?="
    assert m.get_subject() == encoded
    assert str(make_header(decode_header(encoded))) == Rich.SUBJECT
    created = dt.datetime.fromisoformat(m.created)
    assert abs(now - created) < dt.timedelta(seconds=60), m.created

    stored = stored_raw(server, rich.id)
    assert isinstance(m.content, Content)
    # Header names as sent (Message-ID, MIME-Version), continuation lines appended as MailHog
    # does, the trace headers on top included, and every value of a repeated header.
    expected = mailhog_headers(header_block(stored))
    assert m.content.headers == as_client_headers(expected)
    assert expected["X-Repeated"] == ["one", "two"]
    assert m.content.headers["X-Custom-Header"] == "['custom value']"
    assert m.content.headers["Message-ID"] == f"['<{Rich.MESSAGE_ID}>']"
    assert m.content.headers["Bcc"] == f"['{Rich.BCC}']"
    assert m.content.headers["Return-Path"] == f"['<{Rich.FROM}>']"
    assert m.content.headers["Received"].startswith(f"['from {HELO} ([127.0.0.1])\\tby mailsnare (mailsnare) with ESMTP id {rich.id}")
    # The body after the blank line, up to the end of DATA (the final CRLF is not the message's).
    assert m.content.body == rich.wire.split(b"\r\n\r\n", 1)[1][:-2].decode()
    assert m.content.mime is None, "top-level parts go in Message.mime"
    assert m.mime is not None

    o = res.items[1]
    assert (o.get_sender(), o.get_recipients(), o.get_subject()) == ("old@example.com", ["x@example.net"], "older")
    assert o.content.body == "body of older"
    assert o.content.headers["From"] == "['Old <old@example.com>']"
    assert o.mime is None, "a single-part message has no MIME parts"


def test_raw(server, mh):
    rich = send_rich(server)
    [m] = mh.messages().items
    raw = ast.literal_eval(m.raw)  # str() of MailHog's Raw object
    assert set(raw) == {"From", "To", "Data", "Helo"}
    assert (raw["From"], raw["To"], raw["Helo"]) == (Rich.FROM, Rich.RCPTS, HELO)
    stored = stored_raw(server, rich.id)
    assert_trace_then_wire(stored, rich.wire, mail_from=Rich.FROM, bcc=[Rich.BCC])
    assert raw["Data"].encode() == stored[:-2], "the data before the final CRLF.CRLF, dot-unstuffed"


def test_get_subject_without_subject(server, mh):
    send(server, simple(None, body="no subject\n"))
    [m] = mh.messages().items
    assert "Subject" not in m.content.headers
    assert m.get_subject() is None


def test_mime_parts(server, mh):
    rich = send_rich(server)
    [m] = mh.messages().items
    assert isinstance(m.mime, mailhog.MIMEBody)
    body = rich.wire.split(b"\r\n\r\n", 1)[1]
    texts = split_parts(body, rich.msg.get_boundary())
    assert len(texts) == 3
    parts = m.mime.parts
    assert len(parts) == 3, "multipart/alternative, notes.txt, blob.bin: no preamble or epilogue parts"
    for part, text in zip(parts, texts):
        assert isinstance(part, MIMEContent)
        head, part_body = text.split(b"\r\n\r\n", 1)
        assert part.headers == as_client_headers(mailhog_headers(head + b"\r\n"))
        assert part.body == part_body.decode()
        assert part.size == len(text)

    alternative, notes, blob = parts
    assert alternative.headers["Content-Type"] == "['multipart/alternative; boundary=\"=_alternative_mailsnare_python\"']"
    # The client's MIME model has no fields: a nested multipart shows as an empty MIME().
    assert alternative.mime == MIME()
    assert notes.headers["Content-Disposition"] == "['attachment; filename=\"notes.txt\"']"
    assert notes.headers["Content-Transfer-Encoding"] == "['base64']"
    assert base64.b64decode(notes.body) == Rich.NOTES
    assert notes.mime is None
    assert blob.headers["Content-Type"] == "['application/octet-stream']"
    assert base64.b64decode(blob.body) == Rich.BLOB
    assert blob.mime is None


def test_messages_paging(server, mh):
    ids = [send(server, simple(f"page {i}"))[0] for i in range(5)]

    page = mh.messages(start=1, limit=2)
    assert (page.total, page.count, page.start) == (5, 2, 1)
    assert [m.id for m in page.items] == [ids[3], ids[2]]
    assert subjects(page) == ["page 3", "page 2"]

    tail = mh.messages(start=4, limit=2)
    assert (tail.total, tail.count, tail.start) == (5, 1, 4)
    assert subjects(tail) == ["page 0"]

    past = mh.messages(start=5, limit=2)
    assert (past.total, past.count, past.start, past.items) == (5, 0, 5, [])

    assert subjects(mh.messages()) == [f"page {i}" for i in (4, 3, 2, 1, 0)]


def test_search(server, mh):
    rich = send_rich(server)
    shop, _ = send(server, simple("Your order", frm="Shop <shop@example.com>", to="x@example.net",
                                  body="We shipped the pineapple today.\n"))  # fmt: skip
    invoice, _ = send(server, simple("Invoice", frm="billing@corp.example", to="Carol <carol@example.org>",
                                     body="Your pineapple invoice.\n"))  # fmt: skip

    def ids(res, total):
        assert isinstance(res, mailhog.Messages)
        assert (res.total, res.count, res.start) == (total, len(res.items), 0)
        return [m.id for m in res.items]

    assert ids(mh.search(Rich.FROM, kind="from"), 1) == [rich.id]
    assert ids(mh.search("SHOP@EXAMPLE", kind="from"), 1) == [shop], "case-insensitive substring"
    assert ids(mh.search("Shop <", kind="from"), 1) == [shop], "the From header too"
    assert ids(mh.search("carol@example.org", kind="to"), 2) == [invoice, rich.id], "newest first"
    assert ids(mh.search(Rich.BCC, kind="to"), 1) == [rich.id], "an envelope-only (Bcc) recipient"
    assert ids(mh.search("pineapple"), 2) == [invoice, shop], "kind defaults to containing: the body"
    assert ids(mh.search("custom value", kind="containing"), 1) == [rich.id], "header values too"
    assert ids(mh.search("no-such-text-anywhere"), 0) == []

    page = mh.search("pineapple", start=1, limit=1)
    assert (page.total, page.count, page.start) == (2, 1, 1)
    assert [m.id for m in page.items] == [shop]
    assert page.items[0].get_subject() == "Your order"

    # MailHog answers 400 to an unknown kind and to an empty query; the client raises.
    for args in (("x", "subject"), ("", "from")):
        with pytest.raises(requests.HTTPError) as err:
            mh.search(*args)
        assert err.value.response.status_code == 400, args


def test_delete_and_delete_all(server, mh):
    a, b, c = (send(server, simple(f"delete {i}"))[0] for i in range(3))
    [mb] = [m for m in mh.messages().items if m.id == b]
    assert mh.delete(mb) is None
    res = mh.messages()
    assert (res.total, [m.id for m in res.items]) == (2, [c, a])

    # Gone already: MailHog's storage fails with "message not found" (500), mailsnare says 404;
    # the client raises either way, and nothing else is deleted.
    with pytest.raises(requests.HTTPError) as err:
        mh.delete(mb)
    assert err.value.response.status_code == 404
    assert mh.messages().total == 2

    assert mh.delete_all() is None
    res = mh.messages()
    assert (res.total, res.count, res.start, res.items) == (0, 0, 0, [])
    mh.delete_all()  # on an empty mailbox too
    assert mh.messages().total == 0


def test_data_without_rcpt(server, mh):
    """--mailhog accepts DATA with no RCPT (BusyBox `sendmail -S`), the To and Cc addresses as the
    recipients, as MailHog does; without it the answer is Mailpit's 554."""
    msg = simple("no rcpt", frm="app@example.com", to="To One <t1@example.net>", Cc="c1@example.org")
    with smtplib.SMTP("127.0.0.1", server.smtp_port, local_hostname=HELO, timeout=20) as smtp:
        smtp.ehlo()
        assert smtp.mail("app@example.com")[0] == 250
        if "--mailhog" in server.args:
            code, _ = smtp.data(wire_bytes(msg))
            assert code == 250
        else:
            with pytest.raises(smtplib.SMTPDataError) as err:
                smtp.data(wire_bytes(msg))
            assert err.value.smtp_code == 554
    res = mh.messages()
    if "--mailhog" in server.args:
        [m] = res.items
        assert (m.get_sender(), m.get_recipients(), m.get_subject()) == ("app@example.com", ["t1@example.net", "c1@example.org"], "no rcpt")
    else:
        assert (res.total, res.items) == (0, [])


def test_content_size_is_the_raw_data_length(server, mh):
    send_rich(server)
    [m] = mh.messages().items
    assert m.content.size == len(ast.literal_eval(m.raw)["Data"].encode())
