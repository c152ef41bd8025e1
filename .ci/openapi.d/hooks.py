"""Schemathesis hooks for `.ci/openapi`.

`filter_failure` drops only the failures that are the API doing what DESIGN.md section 8 says
and that no JSON Schema can express; everything else fails the run. Each rule names the
operation, the status and the error code it lets through, and why.
"""

import json

import schemathesis


def _error(response):
    try:
        return json.loads(response.content)["error"]
    except Exception:  # not the envelope: never filtered
        return None


def _fields(error):
    details = error.get("details") or {}
    return {f.get("field") for f in details.get("fields", [])}


# Schema-valid requests the server refuses, on purpose, for a reason a schema cannot state.
# (operation label prefix, status, error code, field named in details.fields or None)
ACCEPTED_REFUSALS = [
    # A cursor is an opaque token this API issued; a made-up one is 422 (section 8: "422
    # validation with field errors"). A schema can say only that it is base64url.
    (None, 422, "validation_failed", "cursor"),
]


def _is_accepted_refusal(case, response):
    error = _error(response)
    if error is None:
        return False
    for prefix, status, code, field in ACCEPTED_REFUSALS:
        if prefix is not None and not f"{case.method} {case.path}".startswith(prefix):
            continue
        if response.status_code != status or error.get("code") != code:
            continue
        if field is not None and _fields(error) != {field}:
            continue
        return True
    return False


@schemathesis.hook
def filter_failure(context, failure, case, response):
    # ST202: positive_data_acceptance ("Schema-valid request rejected").
    if getattr(failure, "code", None) == "ST202":
        return not _is_accepted_refusal(case, response)
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
def map_case(context, case):
    if "webhook-endpoints" in case.path and isinstance(case.body, dict) and isinstance(case.body.get("url"), str):
        case.body["url"] = _localised(case.body["url"])
    return case
