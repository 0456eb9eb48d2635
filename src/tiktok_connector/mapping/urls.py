"""Personal data in page URLs: query parameters that carry an email address are removed.

Sign-up and checkout pages often put the visitor's email address in the query string
(`?email=jane%40example.com`). TikTok must not receive it in `page.url` or `page.referrer` (and the
dead-letter queue must not store it), yet the rest of the URL should reach TikTok byte for byte, so
only the offending `name=value` parts are cut out; nothing else is decoded or re-encoded.
"""

import re
from typing import Final
from urllib.parse import unquote

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
