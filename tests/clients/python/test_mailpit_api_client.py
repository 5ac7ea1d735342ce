"""PyPI `mailpit-api-client` (import name `mailpit`) against mailsnare's Mailpit API v1.

Every public function of the package is called: API.get_messages, get_message, get_message_headers,
get_message_attachment, put_messages and delete_messages; the models (Messages, MessageSummary,
Message, Contact, Attachment, Headers) and their decoders (datetime_decoder, millis_to_3_digit,
zulu_to_utc_shift, datelist_decoder/encoder, Message.__eq__); and the testing helpers
(mailpit.testing.pytest.mailpit_api, mailpit.testing.unittest.EMailTestCase).

The client predates Mailpit v1.9.0 and some of its calls cannot work against any current Mailpit;
those tests assert the exact answer mailsnare gives and say what Mailpit answers.
"""

from __future__ import annotations

import datetime as dt
import re
import types
import unittest
from email.header import decode_header, make_header

import httpx
import pytest
from mailpit.client import api as mp_api
from mailpit.client import models
from mailpit.testing import pytest as mp_pytest
from mailpit.testing import unittest as mp_unittest

from helpers import (
    PNG_1x1,
    Rich,
    Server,
    assert_trace_then_wire,
    send,
    send_rich,
    simple,
    stored_raw,
    wire_header,
)

UTC = dt.timezone.utc
PLUS_ONE = dt.timezone(dt.timedelta(hours=1))
# Rich.DATE, "Wed, 15 Jan 2025 09:30:00 +0100".
RICH_DATE = dt.datetime(2025, 1, 15, 9, 30, 0, tzinfo=PLUS_ONE)

# Mailpit's storage.Message, key for key in its order (server/apiv1 GetMessage). It has had no
# `Read` key since Mailpit v1.9.0 (commit 9af04f8, "API: Remove redundant `Read` status from message").
MAILPIT_MESSAGE_KEYS = [
    "ID", "MessageID", "From", "To", "Cc", "Bcc", "ReplyTo", "ReturnPath", "Subject",
    "ListUnsubscribe", "Date", "Tags", "Username", "Text", "HTML", "Size", "Inline", "Attachments",
]  # fmt: skip


@pytest.fixture(scope="module")
def server():
    srv = Server()
    yield srv
    srv.stop()


@pytest.fixture
def api(server):
    client = mp_api.API(server.base_url, timeout=10)
    # "passing an empty list will delete *all* messages" (the client's docstring).
    client.delete_messages([])
    assert client.get_messages().total == 0
    return client


def get_message_json(api: mp_api.API, message_id: str) -> dict:
    """Calls get_message(), which fails decoding (see test_get_message_*), and returns the JSON it
    was given."""
    with pytest.raises(KeyError, match=r"^'read'$"):
        api.get_message(message_id)
    assert api.last_response.status_code == 200, api.last_response.text
    return api.last_response.json()


def decode_message(body: dict) -> models.Message:
    """The client's Message model over mailsnare's answer, given the `Read` key it insists on."""
    assert "Read" not in body
    return models.Message.from_dict({**body, "Read": True})


def parse_rfc3339(value: str) -> dt.datetime:
    """An independent parse of Go's RFC 3339 (nanoseconds cut to microseconds)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", value)
    assert m, value
    base = dt.datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    return base + dt.timedelta(microseconds=int((m.group(2) or "0").ljust(9, "0")[:6]))


def test_get_messages_summary_values(server, api):
    older_id, older_wire = send(server, simple("older", frm="Old Sender <old@example.com>", to="x@example.net"))
    rich = send_rich(server)
    now = dt.datetime.now(UTC)

    msgs = api.get_messages()
    assert isinstance(msgs, models.Messages)
    assert (msgs.total, msgs.unread, msgs.count, msgs.start) == (2, 2, 2, 0)
    assert [m.id for m in msgs.messages] == [rich.id, older_id], "newest first"
    assert dict(api.last_response.request.url.params) == {"limit": "50", "start": "0"}

    s = msgs.messages[0]
    assert isinstance(s, models.MessageSummary)
    assert s.message_id == Rich.MESSAGE_ID, "without the angle brackets"
    assert s.read is False
    assert s.from_ == models.Contact(name=Rich.FROM_NAME, address=Rich.FROM), "display name decoded"
    assert s.to == [models.Contact(name=n, address=a) for n, a in Rich.TO]
    assert s.cc == [models.Contact(name=n, address=a) for n, a in Rich.CC]
    assert s.bcc == [models.Contact(name="", address=Rich.BCC)], "the envelope-only recipient"
    assert s.subject == Rich.SUBJECT, "RFC 2047 subject decoded"
    assert wire_header(rich.wire, "Subject")[0].startswith("=?utf-8?"), "it was sent encoded"
    raw = stored_raw(server, rich.id)
    assert_trace_then_wire(raw, rich.wire, mail_from=Rich.FROM, bcc=[Rich.BCC])
    assert s.size == len(raw)
    assert s.attachments == 2, "notes.txt and blob.bin; the inline logo is not an attachment"
    created_json = api.last_response.json()["messages"][0]["Created"]
    assert s.created == parse_rfc3339(created_json)
    assert s.created.utcoffset() is not None
    assert abs(now - s.created) < dt.timedelta(seconds=60), s.created

    o = msgs.messages[1]
    assert o.message_id == "", "no Message-ID header, none invented"
    assert o.from_ == models.Contact(name="Old Sender", address="old@example.com")
    assert o.to == [models.Contact(name="", address="x@example.net")]
    assert (o.cc, o.bcc, o.attachments, o.read) == ([], [], 0, False)
    assert o.subject == "older"
    assert o.size == len(stored_raw(server, older_id))
    assert o.created <= s.created


def test_get_messages_paging(server, api):
    ids = [send(server, simple(f"page {i}"))[0] for i in range(5)]

    page = api.get_messages(limit=2, start=1)
    assert dict(api.last_response.request.url.params) == {"limit": "2", "start": "1"}
    assert (page.total, page.unread, page.count, page.start) == (5, 5, 2, 1)
    assert [m.subject for m in page.messages] == ["page 3", "page 2"]
    assert [m.id for m in page.messages] == [ids[3], ids[2]]

    tail = api.get_messages(limit=2, start=4)
    assert (tail.total, tail.count, tail.start) == (5, 1, 4)
    assert [m.id for m in tail.messages] == [ids[0]]

    past = api.get_messages(limit=10, start=5)
    assert (past.total, past.unread, past.count, past.start, past.messages) == (5, 5, 0, 5, [])

    everything = api.get_messages()
    assert [m.subject for m in everything.messages] == [f"page {i}" for i in (4, 3, 2, 1, 0)]


def test_get_message_has_mailpits_keys_and_values(server, api):
    """get_message() cannot decode any current Mailpit's message: its Message model requires a
    `Read` key that Mailpit dropped in v1.9.0, so it raises KeyError('read') there exactly as here.
    The JSON it was given is then decoded with the client's own model to check every value."""
    rich = send_rich(server)
    body = get_message_json(api, rich.id)
    assert list(body) == MAILPIT_MESSAGE_KEYS

    msg = decode_message(body)
    assert msg.id == rich.id
    assert msg.message_id == Rich.MESSAGE_ID
    assert msg.from_ == models.Contact(name=Rich.FROM_NAME, address=Rich.FROM)
    assert msg.to == [models.Contact(name=n, address=a) for n, a in Rich.TO]
    assert msg.cc == [models.Contact(name=n, address=a) for n, a in Rich.CC]
    assert msg.bcc == [models.Contact(name="", address=Rich.BCC)]
    assert msg.subject == Rich.SUBJECT
    assert msg.date == RICH_DATE, "the Date header's instant"
    # Quoted-printable keeps the CRLF line ends it was sent with; base64 the exact bytes.
    assert msg.text == Rich.TEXT.replace("\n", "\r\n")
    assert msg.html == Rich.HTML
    assert msg.size == len(stored_raw(server, rich.id))
    assert msg.inline == [
        models.Attachment(part_id="1.2.2", file_name="logo.png", content_type="image/png",
                          content_id="logo@mailsnare.test", size=len(PNG_1x1)),
    ]  # fmt: skip
    assert msg.attachments == [
        models.Attachment(part_id="2", file_name="notes.txt", content_type="text/plain", content_id="", size=len(Rich.NOTES)),
        models.Attachment(part_id="3", file_name="blob.bin", content_type="application/octet-stream", content_id="",
                          size=len(Rich.BLOB)),
    ]  # fmt: skip
    assert (body["ReturnPath"], body["ReplyTo"], body["Tags"], body["Username"]) == (Rich.FROM, [], [], "")

    # Message.__eq__ (and through it Contact's and Attachment's __hash__/__lt__): the same JSON
    # decodes equal; a different subject, recipient or attachment does not.
    assert decode_message(body) == msg
    assert decode_message({**body, "Subject": "other"}) != msg
    assert decode_message({**body, "Cc": []}) != msg
    assert decode_message({**body, "Attachments": body["Attachments"][:1]}) != msg
    assert set(msg.to) == {models.Contact("Bob", "bob@example.net"), models.Contact("", "carol@example.org")}


def test_get_message_marks_read_and_latest(server, api):
    a, _ = send(server, simple("first"))
    b, _ = send(server, simple("second"))
    assert [(m.subject, m.read) for m in api.get_messages().messages] == [("second", False), ("first", False)]

    assert get_message_json(api, a)["Subject"] == "first"
    msgs = api.get_messages()
    assert msgs.unread == 1
    assert [(m.id, m.read) for m in msgs.messages] == [(b, False), (a, True)], "opening a message marks it read"

    # Mailpit's `latest` ID, passed through by the client.
    assert get_message_json(api, "latest")["ID"] == b
    msgs = api.get_messages()
    assert (msgs.total, msgs.unread) == (2, 0)
    assert [m.read for m in msgs.messages] == [True, True]


def test_get_message_attachment(server, api):
    rich = send_rich(server)

    assert api.get_message_attachment(rich.id, "2") == Rich.NOTES.decode()
    res = api.last_response
    assert res.content == Rich.NOTES
    assert res.headers["content-type"].split(";")[0] == "text/plain"

    # The client returns response.text: bytes with no charset are decoded as UTF-8 by httpx,
    # replacing what is not UTF-8. The body itself is the attachment byte for byte.
    blob = api.get_message_attachment(rich.id, "3")
    assert api.last_response.content == Rich.BLOB
    assert blob == Rich.BLOB.decode("utf-8", "replace")
    assert api.last_response.headers["content-type"] == "application/octet-stream"

    api.get_message_attachment(rich.id, "1.2.2")
    assert api.last_response.content == PNG_1x1
    assert api.last_response.headers["content-type"] == "image/png"

    # Any part by its ID, as in Mailpit: the HTML part, decoded from base64.
    assert api.get_message_attachment(rich.id, "1.2.1") == Rich.HTML

    with pytest.raises(httpx.HTTPStatusError) as err:
        api.get_message_attachment(rich.id, "9")
    assert err.value.response.status_code == 404


def test_get_message_headers(server, api):
    rich = send_rich(server)
    h = api.get_message_headers(rich.id)
    assert isinstance(h, models.Headers)
    raw = stored_raw(server, rich.id)

    assert h.content_type == [f'multipart/mixed; boundary="{rich.msg.get_boundary()}"']
    assert h.content_type == wire_header(rich.wire, "Content-Type")
    assert h.date == [RICH_DATE]
    assert h.date[0].utcoffset() == dt.timedelta(hours=1), "parsed by the client from the header as sent"
    assert models.datelist_encoder(h.date) == [Rich.DATE]
    assert models.datelist_decoder([Rich.DATE]) == h.date
    assert h.delivered_to == ["bob@example.net"]
    assert h.from_ == wire_header(rich.wire, "From"), "as sent, RFC 2047 encoded"
    assert str(make_header(decode_header(h.from_[0]))) == f"{Rich.FROM_NAME} <{Rich.FROM}>"
    assert h.message_id == [f"<{Rich.MESSAGE_ID}>"]
    # Every other header, under Go's canonical key (Mime-Version, not MIME-Version), each value
    # unfolded as Go's net/mail reads it; the trace headers on top included.
    assert h.additional == {
        "Bcc": [Rich.BCC],
        "Cc": wire_header(rich.wire, "Cc"),
        "Mime-Version": ["1.0"],
        "Received": wire_header(raw, "Received"),
        "Return-Path": [f"<{Rich.FROM}>"],
        "Subject": wire_header(rich.wire, "Subject"),
        "To": ["Bob <bob@example.net>, carol@example.org"],
        "X-Custom-Header": ["custom value"],
        "X-Repeated": ["one", "two"],
    }
    assert re.fullmatch(r"from client\.python\.test \(\[127\.0\.0\.1\]\) by mailsnare \(mailsnare\) .+", h.additional["Received"][0])
    assert str(make_header(decode_header(h.additional["Subject"][0]))) == Rich.SUBJECT
    keys = list(api.last_response.json())
    assert keys == sorted(keys), "Mailpit returns the header keys alphabetically"

    # The model requires Content-Type, Date, Delivered-To, From and Message-Id. Mailpit lists only
    # the headers a message has, so without one the client fails the same way there.
    plain, _ = send(server, simple("no delivered-to", Date="Thu, 16 Jan 2025 10:00:00 +0000", Message_ID="<p@x>"))
    with pytest.raises(KeyError, match=r"^'delivered_to'$"):
        api.get_message_headers(plain)
    assert api.last_response.status_code == 200
    assert "Delivered-To" not in api.last_response.json()


def test_unknown_message_is_404(api):
    unknown = "00000000-0000-0000-0000-000000000000"
    for call in (lambda: api.get_message(unknown), lambda: api.get_message_headers(unknown),
                 lambda: api.get_message_attachment(unknown, "1")):  # fmt: skip
        with pytest.raises(httpx.HTTPStatusError) as err:
            call()
        assert err.value.response.status_code == 404, err.value.request.url


def test_put_messages_is_refused(server, api):
    """put_messages() sends a form (data={"ids": [...], key: value}); Mailpit's SetReadStatus reads
    only JSON and answers 400 (Go's "invalid character 'i' looking for beginning of value"), so the
    call never works against Mailpit. mailsnare refuses every PUT body that is not JSON with 415 (a
    web form must not change state: README, Security). Either way the client raises and nothing
    changes."""
    a, _ = send(server, simple("stays unread"))
    for value in (True, False):
        with pytest.raises(httpx.HTTPStatusError) as err:
            api.put_messages([a], "Read", value)
        res = err.value.response
        assert res.status_code == 415
        assert res.json() == {"Error": "send the body as JSON, with Content-Type: application/json"}
        assert res.request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert res.request.content == f"ids={a}&Read={str(value).lower()}".encode()
        msgs = api.get_messages()
        assert (msgs.unread, msgs.messages[0].read) == (1, False)


def test_delete_messages(server, api):
    """delete_messages() also sends a form ("ids=<ID>&ids=<ID>"). Mailpit's DeleteMessages decodes
    only JSON and, when that fails, deletes every message: so a call naming one message empties the
    mailbox there, and here."""
    ids = [send(server, simple(f"delete {i}"))[0] for i in range(3)]
    api.delete_messages([ids[1]])
    res = api.last_response
    assert res.request.content == f"ids={ids[1]}".encode()
    assert (res.status_code, res.text) == (200, "ok")
    assert api.get_messages().total == 0

    # An empty list sends no body at all: every message is deleted (the client's documented use).
    for i in range(2):
        send(server, simple(f"again {i}"))
    assert api.get_messages().total == 2
    api.delete_messages([])
    res = api.last_response
    assert res.request.content == b""
    # mailsnare answers a bodiless DELETE with an empty 200 (Mailpit: "ok"; README, Compatibility).
    assert (res.status_code, res.text) == (200, "")
    msgs = api.get_messages()
    assert (msgs.total, msgs.unread, msgs.count, msgs.messages) == (0, 0, 0, [])


def test_model_decoders_on_mailsnare_values(server, api):
    send(server, simple("decoders"))
    summary = api.get_messages().messages[0]
    created = api.last_response.json()["messages"][0]["Created"]
    assert models.zulu_to_utc_shift(created) == created.replace("Z", "+00:00")
    assert models.datetime_decoder(created) == summary.created == parse_rfc3339(created)
    # The forms Mailpit sends (Go trims trailing zeros of its millisecond Created).
    assert models.millis_to_3_digit("2025-01-15T08:30:00.12Z") == "2025-01-15T08:30:00.120Z"
    assert models.millis_to_3_digit("2025-01-15T08:30:00Z") == "2025-01-15T08:30:00.000Z"
    with pytest.raises(ValueError, match="may not be negative"):
        models.Messages(total=-1, unread=0, count=0, start=0, messages=[])


def test_pytest_fixture_mailpit_api(server, api, monkeypatch):
    """mailpit.testing.pytest.mailpit_api, run as pytest runs it: indirect parameter = the URL; on
    teardown it deletes the messages it lists (by Mailpit's rule above: all of them)."""
    fixture = mp_pytest.mailpit_api.__wrapped__
    gen = fixture(types.SimpleNamespace(param=server.base_url))
    client = next(gen)
    assert isinstance(client, mp_api.API) and client.mailpit_url == server.base_url
    ids = [send(server, simple(f"fixture {i}"))[0] for i in range(3)]
    assert [m.id for m in client.get_messages().messages] == ids[::-1]
    with pytest.raises(StopIteration):
        next(gen)
    assert client.last_response.request.method == "DELETE"
    assert api.get_messages().total == 0

    # Without a parameter it picks a default URL from $HOME (no request is made until teardown).
    for home, url in (("/home/dev", "http://localhost:8025"), ("/tmp/pytest-of-root/x", "http://mailpit:8025")):
        monkeypatch.setenv("HOME", home)
        gen = fixture(types.SimpleNamespace())
        assert next(gen).mailpit_url == url
        gen.close()


def test_unittest_emailtestcase(server, api):
    """mailpit.testing.unittest.EMailTestCase: setUpClass builds the API from api_url;
    assertMessageReceived looks the RFC Message-ID up in get_messages(); assertMessageEqual is also
    what assertEqual uses for two Messages."""
    rich = send_rich(server)
    body = get_message_json(api, rich.id)
    same, other = decode_message(body), decode_message({**body, "Subject": "changed"})

    class Case(mp_unittest.EMailTestCase):
        api_url = server.base_url

        def test_received(self):
            self.assertMessageReceived(Rich.MESSAGE_ID)

        def test_not_received(self):
            with self.assertRaisesRegex(self.failureException, "Message not found"):
                self.assertMessageReceived("nobody@nowhere.test")

        def test_equal(self):
            self.assertEqual(decode_message(body), same)
            self.assertMessageEqual(same, decode_message(body))

        def test_unequal(self):
            with self.assertRaises(self.failureException):
                self.assertEqual(same, other)
            with self.assertRaises(self.failureException):
                self.assertMessageEqual(same, other)

    result = unittest.TestResult()
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(Case)
    suite.run(result)
    assert result.testsRun == 4
    assert not result.failures and not result.errors, result.failures + result.errors
    assert Case.mailpit_api.mailpit_url == server.base_url

    # Without setUpClass there is no API to ask.
    bare = mp_unittest.EMailTestCase("assertMessageReceived")
    with pytest.raises(bare.failureException, match="self.api may not be None"):
        bare.assertMessageReceived(Rich.MESSAGE_ID)


def test_mailhog_switch_claims_the_v1_list():
    """With --mailhog, GET /api/v1/messages is MailHog's plain array (README, MailHog
    compatibility), which this client cannot read: documented, and checked here."""
    srv = Server(["--mailhog"])
    try:
        send(srv, simple("claimed"))
        client = mp_api.API(srv.base_url, timeout=10)
        with pytest.raises(AttributeError):
            client.get_messages()
        body = client.last_response.json()
        assert isinstance(body, list)
        assert [m["Content"]["Headers"]["Subject"] for m in body] == [["claimed"]]
    finally:
        srv.stop()


# --- Incompatibilities: the wire differs from Mailpit's ------------------------------------------


def test_timestamps_have_mailpits_millisecond_precision(server, api):
    send(server, simple("no date header"))
    summary = api.get_messages().messages[0]
    created = api.last_response.json()["messages"][0]["Created"]
    date = get_message_json(api, summary.id)["Date"]
    for value in (created, date):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?(Z|[+-]\d\d:\d\d)", value), value
    # What the client hands to fromisoformat, in a form Python 3.8-3.10 parse too.
    dt.datetime.strptime(models.zulu_to_utc_shift(models.millis_to_3_digit(created)), "%Y-%m-%dT%H:%M:%S.%f%z")


def test_date_keeps_the_headers_utc_offset(server, api):
    rich = send_rich(server)
    body = get_message_json(api, rich.id)
    assert body["Date"] == "2025-01-15T09:30:00+01:00"
    msg = decode_message(body)
    assert (msg.date.utcoffset(), msg.date.hour) == (dt.timedelta(hours=1), 9)
