"""No requester identity, note, address, token or secret in any log line, on any path."""

from __future__ import annotations

import json
import logging

import pytest

from core.logs import JsonFormatter, redact
from core.runtime import runtime
from tests.conftest import make_app
from tests.fakes.smtp import fake_smtp_servers, make_certificates
from tests.helpers import EVERY_WEEKDAY, auth, make_world, request_body
from tests.integration.test_deliveries import drain
from tests.integration.test_timers import tick

NOTE = "MARKER-NOTE I feel awful about my manager"
SUBJECT = "U-MARKER-SUBJECT"
STUDENT = "marker.student@school.test"
SUPPORTER_MAIL = "marker.supporter@acme.test"
PASSWORD = "marker-smtp-password"


@pytest.fixture
def captured():
    """Every record from every logger, at DEBUG, as the JSON the worker would write."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if not record.name.startswith("mail.log"):  # the fake SMTP server's own chatter
                records.append(record)

    handler, root = Keep(level=logging.DEBUG), logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield records
    root.removeHandler(handler)
    root.setLevel(before)


def lines(records: list[logging.LogRecord]) -> str:
    formatter = JsonFormatter()
    raw = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in records)
    return raw + "\n" + "\n".join(formatter.format(r) for r in records)


def test_a_full_journey_with_failures_logs_nothing_private(database_url, tmp_path, clock, captured):
    with fake_smtp_servers() as smtp:
        certificates = make_certificates(tmp_path / "tls")
        server = smtp(
            tls="starttls",
            certificates=certificates,
            credentials=("peerline", PASSWORD),
            rcpt_reply="550 5.1.1 <" + STUDENT + ">: no such user",
        )
        app = make_app(
            database_url,
            tmp_path,
            clock,
            smtp_url=server.url("peerline", PASSWORD),
            smtp_from="PeerLine <peerline@acme.test>",
            smtp_ca_file=str(certificates.ca_file),
        )
        client = app.test_client()
        world = make_world(app, client)
        world.add_supporter(
            "Ash", weekly=EVERY_WEEKDAY, contacts=[{"platform": "email", "address": SUPPORTER_MAIL}]
        )
        body = request_body(note=NOTE, requester={"platform": "slack", "subject": SUBJECT})
        body["email"] = STUDENT
        made = client.post("/api/v1/requests", json=body, headers=auth(world.service))
        assert made.status_code == 201
        token = made.json["token"]
        drain(app)  # refused by the server: a logged dead letter
        server.rcpt_reply = None
        server.drop_on = "DATA"
        client.post(f"/api/v1/requests/{made.json['id']}/cancel", headers=auth(token))
        tick(app)
        drain(app)
        slot = client.get("/api/v1/slots?program=acme").json["slots"][0]
        booked = request_body(
            urgency="scheduled",
            note=NOTE,
            email=STUDENT,
            slot={"supporter_id": slot["supporter"]["id"], "starts_at": slot["starts_at"]},
        )
        assert client.post("/api/v1/requests", json=booked).status_code == 201
        server.drop_on = None
        server.data_reply = "451 4.3.0 try later, " + STUDENT
        assert "retry" in drain(app), "the confirmation to the student failed and will retry"
        server.data_reply = None
        clock.advance(hours=1)
        drain(app)
        assert any(STUDENT in m.rcpt_tos for m in server.received), "the student got mail"
        client.get("/api/v1/requests/nope", headers=auth(token))
        client.get("/metrics")
        runtime(app).engine.dispose()
    text = lines(captured)
    assert "dead after" in text and "will retry" in text, "failures were logged"
    for secret in (NOTE, "MARKER-NOTE", SUBJECT, STUDENT, SUPPORTER_MAIL, PASSWORD, token):
        assert secret not in text


def test_the_json_formatter_redacts_what_a_library_might_print():
    record = logging.LogRecord(
        "x",
        logging.WARNING,
        __file__,
        1,
        "auth Bearer plt_abcdefghijkl for %s via smtp://u:%s@relay",
        (STUDENT, PASSWORD),
        None,
    )
    entry = json.loads(JsonFormatter().format(record))
    assert STUDENT not in entry["message"] and PASSWORD not in entry["message"]
    assert "plt_abcdefghijkl" not in entry["message"]
    assert redact("reach me at a.b@c.org") == "reach me at [address]"


def test_the_access_log_never_holds_a_capability_urls_token():
    """`peerline serve` logs each request's path; private links and feeds carry a token there."""
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from core.logs import AccessLogger

    config = Config()
    config.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(r)s')
    feed, private = "plf_" + "A1b2" * 10 + "xyz", "plr_" + "Z9y8" * 10 + "abc"
    for path in (f"/feeds/{feed}.ics", f"/lms/my/{private}"):
        environ = {
            "REQUEST_METHOD": "GET",
            "RAW_URI": path,
            "PATH_INFO": path,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
        }
        response = SimpleNamespace(status="200 OK", sent=10, headers=[])
        atoms = AccessLogger(config).atoms(response, [], environ, timedelta(milliseconds=3))
        line = config.access_log_format % atoms
        assert feed not in line and private not in line and "[token]" in line
