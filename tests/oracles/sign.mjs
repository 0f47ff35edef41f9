// Signs webhook requests with the providers' own Node libraries and prints them as a JSON
// list (see README.md for the shape).
//
// Paddle, Linear and Shopify ship a verifier but no signer: for them this script builds
// the header itself and the provider's library is the acceptance oracle. It must accept
// the request and refuse a copy with one body byte changed, or the script fails and
// writes nothing; hookd's tests then check that hookd agrees.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { sign } from "@octokit/webhooks-methods";
import { LinearWebhookClient } from "@linear/sdk/webhooks";
import { Paddle } from "@paddle/paddle-node-sdk";
import "@shopify/shopify-api/adapters/web-api";
import { ApiVersion, shopifyApi } from "@shopify/shopify-api";
import { getHmac } from "@shopify/shopify-api/test-helpers";
import Stripe from "stripe";

/// The installed version of a package (some packages do not export their package.json).
const version = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;
const NOW = 1_760_000_000; // a fixed "now" keeps the output reproducible

function request(provider, library, secret, url, headers, body, extra = {}) {
  return { provider, library, secret, method: "POST", url, headers, body, now: NOW, ...extra };
}

/// `body` with its last character replaced: what each library must refuse.
const tamper = (body) => `${body.slice(0, -1)}#`;

/// Fails the script unless `check` holds; `what` says which library refused what.
function require_(check, what) {
  if (!check) throw new Error(`oracle library disagrees: ${what}`);
}

/// Whether `f()` resolves to a truthy value without throwing.
async function accepts(f) {
  try {
    return Boolean(await f());
  } catch {
    return false;
  }
}

const out = [];

// GitHub: X-Hub-Signature-256 from @octokit/webhooks-methods.
{
  const secret = "github-oracle-secret";
  const body = JSON.stringify({ action: "opened", number: 1 });
  const lib = `@octokit/webhooks-methods ${version("@octokit/webhooks-methods")}`;
  out.push(
    request("github", lib, secret, "https://hooks.example.com/in/github",
      {
        "x-hub-signature-256": await sign(secret, body),
        "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "x-github-event": "pull_request",
        "content-type": "application/json",
      }, body, { event_id: "72d3162e-cc78-11e3-81ab-4c9367dc0958" }),
  );
}

// Stripe: Stripe-Signature from stripe-node's test header helper.
{
  const secret = "whsec_stripe_node_oracle_0123";
  const body = JSON.stringify({ id: "evt_node_1", object: "event", type: "charge.succeeded" });
  const stripe = new Stripe("sk_test_oracle");
  const header = stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: NOW });
  const lib = `stripe-node ${version("stripe")}`;
  out.push(
    request("stripe", lib, secret, "https://hooks.example.com/in/stripe",
      { "stripe-signature": header, "content-type": "application/json" }, body,
      { event_id: "evt_node_1" }),
  );
}

// Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex HMAC-SHA256 of "{ts}:{body}">`.
// The SDK checks the timestamp against the real clock (at most 5 s old), so this request
// is signed now, and `now` records when.
{
  const secret = "pdl_ntfset_01oracle0000000000000000_oracleSecretKey0123456789";
  const body = JSON.stringify({
    event_id: "evt_01oracle00000000000000000",
    event_type: "transaction.completed",
    occurred_at: "2026-01-01T00:00:00.000000Z",
    notification_id: "ntf_01oracle00000000000000000",
    data: { id: "txn_01oracle00000000000000000", status: "completed" },
  });
  const now = Math.floor(Date.now() / 1000);
  const h1 = createHmac("sha256", secret).update(`${now}:${body}`).digest("hex");
  const header = `ts=${now};h1=${h1}`;
  const webhooks = new Paddle("pdl_oracle_apikey").webhooks;
  require_(await accepts(() => webhooks.isSignatureValid(body, secret, header)), "Paddle, signed");
  require_(!(await accepts(() => webhooks.isSignatureValid(tamper(body), secret, header))),
    "Paddle, tampered");
  out.push({
    ...request("paddle", `@paddle/paddle-node-sdk ${version("@paddle/paddle-node-sdk")}`, secret,
      "https://hooks.example.com/in/paddle",
      { "paddle-signature": header, "content-type": "application/json" }, body,
      { event_id: "evt_01oracle00000000000000000" }),
    now,
  });
}

// Linear: `Linear-Signature: <hex HMAC-SHA256 of the body>`; the body's
// `webhookTimestamp` (Unix ms) must be within a minute of the SDK's real clock.
{
  const secret = "lin_wh_oracle_secret_0123456789";
  const millis = Date.now();
  const delivery = "234d1a4e-b617-4388-90fe-adc3633d6b72";
  const body = JSON.stringify({
    action: "create",
    type: "Issue",
    data: { id: "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9", title: "Oracle", number: 42 },
    url: "https://linear.app/oracle/issue/ORA-42",
    createdAt: new Date(millis).toISOString(),
    organizationId: "dd1d2b5a-8d0b-4a8f-9a1d-6a1a3c1e0f00",
    webhookTimestamp: millis,
    webhookId: "6f0e2a1c-3b5d-4e7f-8a9b-0c1d2e3f4a5b",
  });
  const signature = createHmac("sha256", secret).update(body).digest("hex");
  const client = new LinearWebhookClient(secret);
  require_(await accepts(() => client.parseData(Buffer.from(body), signature)), "Linear, signed");
  require_(!(await accepts(() => client.parseData(Buffer.from(tamper(body)), signature))),
    "Linear, tampered");
  out.push({
    ...request("linear", `@linear/sdk ${version("@linear/sdk")}`, secret,
      "https://hooks.example.com/in/linear",
      {
        "linear-signature": signature,
        "linear-delivery": delivery,
        "linear-event": "Issue",
        "content-type": "application/json; charset=utf-8",
      }, body, { event_id: delivery }),
    now: Math.floor(millis / 1000),
  });
}

// Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>` with the app's API
// secret, from the library's own test helper; `webhooks.validate` runs offline (no shop).
{
  const secret = "shpss_oracle_app_secret_0123456789";
  const webhookId = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043";
  const body = JSON.stringify({ id: 820982911946154500, email: "jon@example.com", total_price: "1.00" });
  const headers = {
    "x-shopify-hmac-sha256": getHmac(body, secret),
    "x-shopify-topic": "orders/create",
    "x-shopify-shop-domain": "oracle-shop.myshopify.com",
    "x-shopify-api-version": "2025-07",
    "x-shopify-webhook-id": webhookId,
    "x-shopify-triggered-at": "2026-01-01T00:00:00.000Z",
    "x-shopify-event-id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
    "content-type": "application/json",
  };
  const shopify = shopifyApi({
    apiKey: "oracle-api-key",
    apiSecretKey: secret,
    apiVersion: ApiVersion.July25,
    hostName: "hooks.example.com",
    isEmbeddedApp: false,
    logger: { log: () => {} },
  });
  const url = "https://hooks.example.com/in/shopify";
  const validate = (b) =>
    shopify.webhooks
      .validate({ rawBody: b, rawRequest: new Request(url, { method: "POST", headers, body: b }) })
      .then((r) => r.valid);
  require_(await accepts(() => validate(body)), "Shopify, signed");
  require_(!(await accepts(() => validate(tamper(body)))), "Shopify, tampered");
  out.push(
    request("shopify", `@shopify/shopify-api ${version("@shopify/shopify-api")}`, secret, url,
      headers, body, { event_id: webhookId }),
  );
  // Shopify's "events" deliveries: the same headers without the `x-` prefix.
  const eventsId = "0c4f2a59-1f2b-4a0e-9a51-7a3c2f1d9e11";
  const eventsHeaders = Object.fromEntries(
    Object.entries({ ...headers, "x-shopify-webhook-id": eventsId }).map(([k, v]) => [
      k.replace(/^x-shopify-/, "shopify-"),
      v,
    ]),
  );
  const validateEvents = (b) =>
    shopify.webhooks
      .validate({
        rawBody: b,
        rawRequest: new Request(url, { method: "POST", headers: eventsHeaders, body: b }),
      })
      .then((r) => r.valid);
  require_(await accepts(() => validateEvents(body)), "Shopify events, signed");
  require_(!(await accepts(() => validateEvents(tamper(body)))), "Shopify events, tampered");
  out.push(
    request("shopify", `@shopify/shopify-api ${version("@shopify/shopify-api")} (events)`,
      secret, url, eventsHeaders, body, { event_id: eventsId }),
  );
}

console.log(JSON.stringify(out, null, 1));
