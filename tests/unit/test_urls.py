"""Email addresses in page URLs: the query parameters that carry one are removed, nothing else changes."""

import pytest

from tiktok_connector.mapping.urls import without_email_parameters

PAGE = "https://shop.example.com/checkout"


@pytest.mark.parametrize(
    ("url", "expected", "removed"),
    [
        # nothing that could spell an email address: the very same text
        (PAGE, PAGE, 0),
        (f"{PAGE}?q=trail+shoes&utm_source=tiktok", f"{PAGE}?q=trail+shoes&utm_source=tiktok", 0),
        # a parameter holding an address, plain or percent-encoded, in any position
        (f"{PAGE}?email=jane.doe@example.com&step=2", f"{PAGE}?step=2", 1),
        (f"{PAGE}?step=2&email=jane.doe%40example.com", f"{PAGE}?step=2", 1),
        (f"{PAGE}?a=1&e=jane%2Btag%40example.co.uk&b=2", f"{PAGE}?a=1&b=2", 1),
        (f"{PAGE}?contact=Jane%20%3Cjane.doe%40example.com%3E", PAGE, 1),
        (f"{PAGE}?jane.doe%40example.com", PAGE, 1),
        # every such parameter; the others keep their exact encoding, order, and empty parts
        (f"{PAGE}?q=a%20b&to=x@example.org&x=%7E&&cc=y%40example.org", f"{PAGE}?q=a%20b&x=%7E&", 2),
        # the fragment is not the query: kept as it is
        (f"{PAGE}?email=x@example.org#section-2", f"{PAGE}#section-2", 1),
        (f"{PAGE}#email=x@example.org", f"{PAGE}#email=x@example.org", 0),
        (f"{PAGE}?step=2#from=x@example.org", f"{PAGE}?step=2#from=x@example.org", 0),
        # an @ that is no email address
        (f"{PAGE}?handle=@jane&at=user@localhost", f"{PAGE}?handle=@jane&at=user@localhost", 0),
        ("https://jane@shop.example.com/p", "https://jane@shop.example.com/p", 0),
        # encoded twice: one decoding shows no address, so it is not one
        (f"{PAGE}?e=jane%2540example.com", f"{PAGE}?e=jane%2540example.com", 0),
    ],
)
def test_email_parameters_are_removed_and_the_rest_kept_exactly(
    url: str, expected: str, removed: int
) -> None:
    assert without_email_parameters(url) == (expected, removed)
