"""Schemathesis hooks for `.ci/run`: serializers for the JSON-shaped media types the API takes
that schemathesis does not know (CSP reports, NDJSON)."""

import json

import schemathesis

schemathesis.serializer.alias("application/csp-report", "application/json")


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    """The NDJSON body is text (a string in the document) and is sent as it is. Anything else is
    generated only to break that schema, and goes as one line holding a JSON array: not a record."""
    if isinstance(value, str):
        return value.encode()
    return (json.dumps([value]) + "\n").encode()
