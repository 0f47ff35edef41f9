// Signs webhook requests with the providers' own Node libraries and prints them as a JSON
// list (see README.md for the shape). Nothing here verifies; hookd's tests do.
import { readFileSync } from "node:fs";
import { sign } from "@octokit/webhooks-methods";
import Stripe from "stripe";

/// The installed version of a package (some packages do not export their package.json).
const version = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;
const NOW = 1_760_000_000; // a fixed "now" keeps the output reproducible

function request(provider, library, secret, url, headers, body, extra = {}) {
  return { provider, library, secret, method: "POST", url, headers, body, now: NOW, ...extra };
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

console.log(JSON.stringify(out, null, 1));
