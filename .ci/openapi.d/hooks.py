"""Schemathesis hooks for `.ci/openapi`.

`filter_failure` drops only the failures that are the API doing what DESIGN.md section 8 says
and that no JSON Schema can express; everything else fails the run. Each rule names the
operation, the status and the error code it lets through, and why.
"""

import json
import re

import schemathesis


def _error(response):
    try:
        return json.loads(response.content)["error"]
    except Exception:  # not the envelope: never filtered
        return None


def _fields(error):
    details = error.get("details") or {}
    return {f.get("field") for f in details.get("fields", [])}


# Schema-valid requests the server refuses on purpose, for reasons a JSON Schema cannot state:
# section 8 answers them 422 (or 400, 415) naming the field. Each entry is
# (operation prefix or None for any, status, error code, the one field named or None, words the
# message must contain or None).
ACCEPTED_REFUSALS = [
    # A cursor is an opaque token this API issued; the schema says only that it is base64url.
    (None, 422, "validation_failed", "cursor", "not a cursor this API issued"),
    # JSON Schema counts 1.0 as an integer; money and counts are integers written as integers.
    (None, 422, "validation_failed", None, "invalid type: floating point"),
    # References to objects that do not exist (section 8: validation, naming the field).
    (None, 422, "validation_failed", re.compile(r"^([a-z_\[\]0-9]+\.)*[a-z_]*_id$"), "no such"),
    # Rules across fields or against stored state.
    ("PATCH /v1/admin/categories/", 422, "validation_failed", "parent_id", "cannot move"),
    ("POST /v1/admin/orders/", 422, "validation_failed", "tracking_number", None),
    # A product's variants are priced in one currency, reseller prices too.
    (None, 422, "validation_failed", re.compile(r"^(variants\[\d+\]\.)?(reseller_)?price\.currency$"), None),
    # SKUs are unique; JSON Schema's uniqueItems cannot say "unique by one property".
    (None, 422, "validation_failed", re.compile(r"^variants\[\d+\]\.sku$"), "appears twice"),
    # Each variant of a product has its own options (checked against the stored variants).
    (None, 422, "validation_failed", re.compile(r"^(variants\[\d+\]\.)?options$"), "another variant"),
    # Option names are trimmed; two that differ only in outer spaces are one name.
    (None, 422, "validation_failed", re.compile(r"^(variants\[\d+\]\.)?options$"), "must differ after trimming"),
    ("POST /v1/checkout", 422, "not_for_sale", None, None),
    # A refund puts back at most what the order bought (stored state).
    ("POST /v1/admin/orders/", 422, "invalid_restock", None, None),
    # Money the API takes is within ±10^15 minor units; one Money schema serves requests and
    # answers (where sums may be larger), so the bound is stated in words, not in the schema.
    (None, 422, "validation_failed", re.compile(r"^([a-z_\[\]0-9]+\.)*amount$"), "minor units"),
    # Section 8 / README: the same Idempotency-Key with another request is 422.
    (None, 422, "idempotency_key_reused", None, None),
    ("GET /v1/products", 422, "validation_failed", "min_price", "above max_price"),
    ("GET /v1/admin/products", 422, "validation_failed", "min_price", "above max_price"),
    ("GET /v1/search", 422, "validation_failed", "price_min", "above price_max"),
    ("POST /v1/checkout", 422, "invalid_checkout", None, None),
    # Delivery slots against stored state: an address in a zone with slots needs one that is
    # still offered (lead time, same-day cut-off, closed dates); other orders name none.
    ("POST /v1/checkout", 422, "delivery_slot_required", None, None),
    ("POST /v1/checkout", 422, "invalid_delivery", None, None),
    ("POST /v1/checkout", 422, "slot_closed", None, None),
    # A slot template's rules across fields (the start before the end), a capacity override's
    # template of that zone, a manifest date whose local day the time-zone database can hold.
    ("POST /v1/admin/delivery/", 422, "invalid_delivery", None, None),
    ("PUT /v1/admin/delivery/", 422, "invalid_delivery", None, None),
    ("GET /v1/admin/delivery/manifest", 422, "invalid_delivery", None, "out of range"),
    # Wallet money moves in the shop's currency only (PASAR_CURRENCY, a setting), and not zero.
    ("POST /v1/wallet/", 422, "invalid_wallet_request", None, None),
    ("POST /v1/admin/users/", 422, "invalid_wallet_request", None, None),
    # A quote prices variants that are for sale, in one currency, in quantities up to 100, and
    # coordinates come as a pair (stored state and rules across parameters).
    ("GET /v1/shipping/quote", 422, "validation_failed", re.compile(r"^(items|lat)$"), None),
    # Shipping rules checked together: rising tiers, prices in the method's currency, zones
    # that exist, postal ranges low to high, a closed ring of positions on the map.
    ("POST /v1/admin/shipping/", 422, "invalid_shipping", None, None),
    ("POST /v1/admin/shipping/zones", 422, "validation_failed", "area", "GeoJSON Polygon"),
    # The money bound (above) inside a rate or an optional threshold: the error names the field
    # holding the Money, not its amount.
    ("POST /v1/admin/shipping/methods", 422, "validation_failed", re.compile(r"^(rate|free_above)$"), "minor units"),
    # A voucher's rules across fields: one of percent_off and amount_off, amounts above zero and
    # in one currency, the end after the start, a store's voucher only for its own store.
    (
        None,
        422,
        "validation_failed",
        re.compile(r"^(percent_off|amount_off|max_discount|min_spend|ends_at|applies_to)$"),
        None,
    ),
    # Validating a voucher prices items as a checkout does (for sale, one currency, items or a cart).
    ("POST /v1/vouchers/validate", 422, "invalid_checkout", None, None),
    ("POST /v1/vouchers/validate", 422, "not_for_sale", None, None),
    # An account token is a secret the server emailed to its owner; a fuzzer cannot know one.
    ("POST /v1/auth/verify-email", 400, "invalid_account_token", None, None),
    ("POST /v1/auth/password/reset", 400, "invalid_account_token", None, None),
    # A time zone is a name in the IANA database, which no pattern lists.
    ("PATCH /v1/me", 422, "validation_failed", "time_zone", "not an IANA time zone name"),
    # A gateway's webhook must carry its signature over the body; a fuzzer cannot sign.
    ("POST /v1/webhooks/", 400, "invalid_signature", None, None),
    # A file item has bytes: an empty body is no file (a binary body's length is not a schema's).
    ("POST /v1/admin/variants/", 422, "validation_failed", "body", "the file is empty"),
    # A review names each image once (uniqueItems is not rendered for a list of ids here), and a
    # seller's reply says something (review texts may be empty; replies may not).
    ("POST /v1/reviews", 422, "validation_failed", "images", "given twice"),
    ("POST /v1/reviews/", 422, "validation_failed", "text", "must not be empty"),
    # An upload must be a real PNG, JPEG, WebP or GIF of the type it claims (a store's document:
    # a PDF or such an image); random bytes are not.
    (None, 415, "unsupported_media_type", None, "not a PNG, JPEG, WebP or GIF"),
    ("POST /v1/sellers/me/documents", 415, "unsupported_media_type", None, "not a PDF or an image"),
    # An analytics period ends after it starts and spans at most 31 days by the hour, 400 by
    # the day (a rule across parameters).
    ("GET /v1/admin/analytics/", 422, "validation_failed", "to", "after from"),
    ("GET /v1/admin/analytics/", 422, "validation_failed", "from", "buckets by the"),
    ("GET /v1/seller/analytics/", 422, "validation_failed", "to", "after from"),
    ("GET /v1/seller/analytics/", 422, "validation_failed", "from", "buckets by the"),
    # A stock import's body is CSV text, which the schema can only call a string: its header,
    # its rows and their SKUs (variants that exist, physical, each once) are checked by the server,
    # which answers 422 naming every bad line (README, the stock import).
    ("POST /v1/admin/stock/import", 422, "validation_failed", None, None),
    # The chat socket answers only a WebSocket handshake, which an HTTP fuzzer does not send.
    ("GET /v1/chat/ws", 426, "upgrade_required", None, None),
    # An unsubscribe link is signed by the server; a fuzzer cannot sign one.
    ("GET /v1/notifications/unsubscribe", 400, "invalid_token", None, None),
    ("POST /v1/notifications/unsubscribe", 400, "invalid_token", None, None),
    # A conversation is with a store that exists and is open (a slug is any text to a schema).
    ("POST /v1/chat/conversations", 422, "validation_failed", "store", "no open store"),
    # Transactional notifications cannot be turned off: which categories are is a rule of the
    # shop, listed in the README, not a schema's.
    ("PUT /v1/me/notification-preferences", 422, "validation_failed", "categories", "cannot be turned off"),
]


def _is_accepted_refusal(case, response):
    error = _error(response)
    if error is None:
        return False
    for prefix, status, code, field, words in ACCEPTED_REFUSALS:
        if prefix is not None and not f"{case.method} {case.path}".startswith(prefix):
            continue
        if response.status_code != status or error.get("code") != code:
            continue
        if isinstance(field, str) and _fields(error) != {field}:
            continue
        if isinstance(field, re.Pattern) and not all(field.match(f or "") for f in _fields(error) or {""}):
            continue
        if words is not None and words not in error.get("message", ""):
            continue
        return True
    return False


@schemathesis.hook
def filter_failure(context, failure, case, response):
    # ST202: positive_data_acceptance ("Schema-valid request rejected").
    if getattr(failure, "code", None) == "ST202":
        return not _is_accepted_refusal(case, response)
    # ST302: ensure_resource_availability (see REPLAYED_IDS below).
    if getattr(failure, "code", None) == "ST302":
        return not any(value in REPLAYED_IDS for value in (case.path_parameters or {}).values())
    return True


# Webhook endpoints: the server calls the URLs it is given (the sender delivers events to
# them), so every URL the fuzzer draws is pointed at a closed port on this machine, keeping the
# run's traffic on 127.0.0.1 (the server runs with PASAR_WEBHOOKS_ALLOW_PRIVATE=true).
LOCAL_SINK = "127.0.0.1:9"


def _localised(url):
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.scheme.lower() in ("http", "https") and parts.netloc:
            return urlunsplit(parts._replace(netloc=LOCAL_SINK))
    except ValueError:
        pass
    return url


@schemathesis.hook
def before_call(context, case, kwargs):
    # Runs before every request of every phase; Schemathesis re-checks whether the edited case
    # is still valid or invalid, so moving a host cannot turn a negative case into a false alarm.
    if "webhook-endpoints" in case.path and isinstance(case.body, dict) and isinstance(case.body.get("url"), str):
        case.body["url"] = _localised(case.body["url"])


# An Idempotency-Key sent again with the same request replays the first answer for 24 hours
# (section 8, README "API conventions"), even when the object it created has been deleted since.
# The fuzzer reuses keys, so a replayed 201 can name an object that is gone; the resource
# availability check (ST302) would call that a created resource not found. Remember what
# replays named, and let ST302 through only for those.
REPLAYED_IDS = set()


def _header(response, name):
    for key, value in (response.headers or {}).items():
        if key.lower() == name:
            return value[0] if isinstance(value, list) else value
    return None


@schemathesis.hook
def after_call(context, case, response):
    if _header(response, "idempotent-replayed") == "true":
        try:
            created = json.loads(response.content)
        except Exception:
            return
        if isinstance(created, dict) and isinstance(created.get("id"), str):
            REPLAYED_IDS.add(created["id"])
