#!/usr/bin/env python3
"""Signs webhook requests with the providers' own Python libraries and prints them as a
JSON list (see README.md for the shape). Where a library can also verify (slack_sdk), the
script requires it to accept what it signed and refuse a tampered copy, so a request the
provider's own code would refuse never reaches hookd's tests as a valid one."""
import base64
import datetime
import hashlib
import json
import sys
import urllib.parse

import slack_sdk.version
import stripe
import twilio
from slack_sdk.signature import Clock, SignatureVerifier
from svix.webhooks import Webhook
from twilio.request_validator import RequestValidator

NOW = 1_760_000_000  # a fixed "now" keeps the output reproducible


def request(provider, library, secret, url, headers, body, **extra):
    out = {
        "provider": provider,
        "library": library,
        "secret": secret,
        "method": "POST",
        "url": url,
        "headers": headers,
        "body": body,
        "now": NOW,
    }
    out.update(extra)
    return out


def stripe_requests():
    secret = "whsec_stripe_oracle_0123456789"
    body = json.dumps({"id": "evt_oracle_1", "object": "event", "type": "invoice.paid"})
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=NOW)
    lib = f"stripe-python {stripe.VERSION}"
    return [
        request("stripe", lib, secret, "https://hooks.example.com/in/stripe",
                {"stripe-signature": header, "content-type": "application/json"}, body,
                event_id="evt_oracle_1"),
    ]


def twilio_requests():
    token = "twilio_auth_token_oracle_0123"
    validator = RequestValidator(token)
    lib = f"twilio-python {twilio.__version__}"
    out = []
    # A form-encoded status callback, signed for the URL as Twilio calls it (with and
    # without an explicit port).
    params = {"CallSid": "CA123", "CallStatus": "completed", "From": "+15550001111",
              "To": "+15550002222", "Caller": "+15550001111"}
    body = urllib.parse.urlencode(params)
    for url in ("https://hooks.example.com/in/twilio?source=calls",
                "https://hooks.example.com:443/in/twilio?source=calls"):
        sig = validator.compute_signature(url, params)
        out.append(request("twilio", lib, token, url,
                           {"x-twilio-signature": sig,
                            "content-type": "application/x-www-form-urlencoded"}, body))
    # A JSON body: the URL carries bodySHA256 and the signature covers the URL only.
    body = json.dumps({"event": "oracle", "n": 1})
    digest = hashlib.sha256(body.encode()).hexdigest()
    url = f"https://hooks.example.com/in/twilio?bodySHA256={digest}"
    sig = validator.compute_signature(url, {})
    out.append(request("twilio", lib, token, url,
                       {"x-twilio-signature": sig, "content-type": "application/json"}, body))
    return out


def svix_requests():
    secret = "whsec_" + base64.b64encode(b"svix-oracle-key-0123456789abcdef").decode()
    body = json.dumps({"type": "user.created", "data": {"id": 7}})
    ts = datetime.datetime.fromtimestamp(NOW, tz=datetime.timezone.utc)
    sig = Webhook(secret).sign("msg_oracle_1", ts, body)
    lib = "svix-python 2.9.1"
    headers = {"webhook-id": "msg_oracle_1", "webhook-timestamp": str(NOW),
               "webhook-signature": sig, "content-type": "application/json"}
    svix_headers = {k.replace("webhook-", "svix-"): v for k, v in headers.items()
                    if k.startswith("webhook-")}
    svix_headers["content-type"] = "application/json"
    return [
        request("standard_webhooks", lib, secret, "https://hooks.example.com/in/sw",
                headers, body, event_id="msg_oracle_1"),
        request("standard_webhooks", lib, secret, "https://hooks.example.com/in/sw",
                svix_headers, body, event_id="msg_oracle_1"),
    ]


class FixedClock(Clock):
    """slack_sdk checks the timestamp against its clock: make that clock read NOW."""

    def now(self):
        return float(NOW)


def slack_requests():
    secret = "slack_signing_secret_oracle_0123"
    verifier = SignatureVerifier(secret, clock=FixedClock())
    lib = f"slack_sdk {slack_sdk.version.__version__}"
    events = json.dumps({
        "token": "verification-token", "team_id": "T0ORACLE", "api_app_id": "A0ORACLE",
        "event": {"type": "app_mention", "user": "U0ORACLE", "text": "<@U0HOOKD> hi",
                  "ts": "1760000000.000100", "channel": "C0ORACLE"},
        "type": "event_callback", "event_id": "Ev0ORACLE1", "event_time": NOW,
    })
    # A slash command: form-encoded, and without an event id.
    command = urllib.parse.urlencode({
        "token": "verification-token", "team_id": "T0ORACLE", "command": "/hookd",
        "text": "status 42", "user_id": "U0ORACLE", "response_url":
        "https://hooks.slack.com/commands/T0ORACLE/1/abc",
    })
    out = []
    for body, content_type, extra in (
        (events, "application/json", {"event_id": "Ev0ORACLE1"}),
        (command, "application/x-www-form-urlencoded", {}),
    ):
        timestamp = str(NOW)
        sig = verifier.generate_signature(timestamp=timestamp, body=body)
        # The library is the acceptance oracle: it must take what it signed and refuse
        # the same request with one body byte changed.
        assert verifier.is_valid(body=body, timestamp=timestamp, signature=sig), body
        assert not verifier.is_valid(body=body[:-1] + "#", timestamp=timestamp, signature=sig)
        headers = {"x-slack-signature": sig, "x-slack-request-timestamp": timestamp,
                   "content-type": content_type}
        out.append(request("slack", lib, secret, "https://hooks.example.com/in/slack",
                           headers, body, **extra))
    return out


def main():
    out = stripe_requests() + twilio_requests() + svix_requests() + slack_requests()
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
