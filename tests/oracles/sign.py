#!/usr/bin/env python3
"""Signs webhook requests with the providers' own Python libraries and prints them as a
JSON list (see README.md for the shape). Nothing here verifies; hookd's tests do."""
import base64
import datetime
import hashlib
import json
import sys
import urllib.parse

import stripe
import twilio
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


def main():
    out = stripe_requests() + twilio_requests() + svix_requests()
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
