"""Fails unless every webhook endpoint registered on the server points at 127.0.0.1.

The Schemathesis hooks move every URL the fuzzer registers to 127.0.0.1; this checks that none
escaped (the server delivers events to the URLs it holds).

Usage: python local_webhooks.py BASE_URL EMAIL PASSWORD
"""

import json
import sys
import urllib.parse
import urllib.request


def call(url, token=None, body=None):
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode())
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def main(base, email, password):
    token = call(f"{base}/v1/auth/login", body={"email": email, "password": password})["access_token"]
    hosts, cursor = set(), None
    while True:
        query = "limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = call(f"{base}/v1/admin/webhook-endpoints?{query}", token)
        hosts |= {urllib.parse.urlsplit(endpoint["url"]).hostname for endpoint in page["data"]}
        cursor = page.get("next_cursor")
        if not cursor:
            break
    elsewhere = sorted(host for host in hosts if host != "127.0.0.1")
    if elsewhere:
        sys.exit(f"webhook endpoints off this machine were registered: {elsewhere}")
    print(f"  ok: every registered webhook URL is on 127.0.0.1 ({len(hosts)} host(s))")


if __name__ == "__main__":
    main(*sys.argv[1:4])
