"""A request body is decoded once and refused, by field, when it carries text no database column holds."""

from __future__ import annotations

import pytest

from proto.base import CommandError
from proto.http.messages import SendMessageBody
from services.gateway.api import decode_body

_OK = b'{"from":"+12125550100","to":"+14155550123","text":"h\\u00e9llo \\"there\\""}'


def test_a_nul_escaped_anywhere_is_refused_by_field() -> None:
    assert decode_body(_OK, SendMessageBody).text == 'h\u00e9llo "there"'
    with pytest.raises(CommandError) as e:
        decode_body(b'{"from":"+12125550100","to":"+14155550123","text":"a\\u0000b"}', SendMessageBody)
    assert (e.value.status, e.value.details["field"]) == (400, "text")
    # an escaped backslash before a u is no escape of a NUL: the body is checked and passes
    assert decode_body(b'{"from":"+12125550100","to":"+14155550123","text":"a\\\\u0000"}',
                       SendMessageBody).text == "a\\u0000"


@pytest.mark.parametrize("raw", [b'{"from":"+12125550100","to":"+14155550123","text":"a\x00b"}',
                                 b'{"from":"+12125550100","to":"+14155550123","text":"\\udc00"}',
                                 b'{"from":"+12125550100","to":"+14155550123","text":"\xed\xa0\x80"}'])
def test_raw_nul_lone_surrogates_and_bad_utf8_are_refused_by_the_decoder(raw: bytes) -> None:
    with pytest.raises(CommandError) as e:
        decode_body(raw, SendMessageBody)
    assert e.value.status == 400
