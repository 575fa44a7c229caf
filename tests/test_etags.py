"""If-Match compares strongly, If-None-Match weakly (RFC 9110, 13.1.1 and 13.1.2)."""

import pytest

from geoplatform.etags import if_match_tags, none_match


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        (None, set()),
        ("", set()),
        ('"a"', {'"a"'}),
        ('"a", W/"b" ,"c"', {'"a"', '"c"'}),
        ("*", {"*"}),
        (' , "a",,', {'"a"'}),
    ],
)
def test_if_match_names_strong_tags_only(header, tags):
    assert if_match_tags(header) == tags


@pytest.mark.parametrize(
    ("header", "etag", "matches"),
    [
        (None, '"a"', False),
        ("", '"a"', False),
        ('"a"', '"a"', True),
        ('W/"a"', '"a"', True),
        ('"b", W/"a"', '"a"', True),
        ('"a"', 'W/"a"', True),
        ('"b"', '"a"', False),
        ('"a-identity"', '"a"', False),
        ("*", '"a"', True),
    ],
)
def test_if_none_match_compares_weakly_and_star_names_any(header, etag, matches):
    assert none_match(header, etag) is matches
