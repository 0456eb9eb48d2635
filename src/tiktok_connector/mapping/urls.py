"""Page URLs: query parameters that carry an email address are removed; one parameter can be read.

Sign-up and checkout pages often put the visitor's email address in the query string
(`?email=jane%40example.com`). TikTok must not receive it in `page.url` or `page.referrer` (and the
dead-letter queue must not store it), yet the rest of the URL should reach TikTok byte for byte, so
only the offending `name=value` parts are cut out; nothing else is decoded or re-encoded.
"""

import re
from typing import Final
from urllib.parse import parse_qsl, unquote, urlsplit

_EMAIL: Final = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


def without_email_parameters(url: str) -> tuple[str, int]:
    """The URL without the query parameters whose name or value holds an email address (after
    percent-decoding), and how many were removed. A URL without any keeps its exact text."""
    if "@" not in url and "%40" not in url:
        return url, 0  # the common case: nothing that could spell an email address
    before_fragment, hash_sign, fragment = url.partition("#")
    head, question, query = before_fragment.partition("?")
    if not question:
        return url, 0
    kept = [part for part in query.split("&") if not _EMAIL.search(unquote(part))]
    removed = query.count("&") + 1 - len(kept)
    if not removed:
        return url, 0
    new_query = "&".join(kept)
    return f"{head}{'?' if new_query else ''}{new_query}{hash_sign}{fragment}", removed


def query_parameter(url: str, name: str) -> str | None:
    """The first non-blank value of a query parameter of the URL (percent-decoded), or None."""
    if f"{name}=" not in url:
        return None  # the common case, without parsing
    try:
        query = urlsplit(url).query
    except ValueError:  # e.g. a malformed IPv6 host: no parameter can be trusted
        return None
    for key, value in parse_qsl(query):
        if key == name and value.strip():
            return value.strip()
    return None
