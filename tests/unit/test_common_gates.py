"""The neutral request gates every REST dialect uses: JSON under the XML gate's caps, HTTP Basic."""

import base64
import json

import pytest

from jobgate.dialects.common.http import basic_credentials
from jobgate.dialects.common.jsonbody import JsonLimits, JsonRefused, parse_json


class TestJsonGate:
    def test_a_plain_document_is_parsed(self) -> None:
        assert parse_json(b'{"runIds": {"runId": [1, 2]}}') == {"runIds": {"runId": [1, 2]}}

    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (b'{"a": ', "not well-formed"),
            (b"\xff\xfe{}", "not UTF-8"),
            (b"[NaN]", "NaN is not a JSON value"),
            (b'{"x": Infinity}', "Infinity is not a JSON value"),
            (b"[" * 40 + b"]" * 40, "nested deeper than 32"),
            (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 32"),
            (json.dumps(list(range(6000))).encode(), "more than 5000 values"),
        ],
    )
    def test_a_body_beyond_the_caps_is_refused_with_a_reason(self, body: bytes, reason: str) -> None:
        with pytest.raises(JsonRefused, match=reason):
            parse_json(body)

    def test_the_caps_are_the_limits_given(self) -> None:
        with pytest.raises(JsonRefused, match="nested deeper than 2"):
            parse_json(b"[[[1]]]", JsonLimits(max_depth=2))


def _scope(value: str | None) -> dict[str, object]:
    headers = [] if value is None else [(b"authorization", value.encode("latin-1"))]
    return {"type": "http", "headers": headers}


class TestBasicCredentials:
    def test_user_and_password_are_read_as_utf8(self) -> None:
        token = base64.b64encode("zoë:pa:ss".encode()).decode()
        assert basic_credentials(_scope(f"Basic {token}")) == ("zoë", "pa:ss")

    @pytest.mark.parametrize(
        "header", [None, "Bearer abc", "Basic", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()]
    )
    def test_a_missing_or_unreadable_header_is_none(self, header: str | None) -> None:
        assert basic_credentials(_scope(header)) is None
