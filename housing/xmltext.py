"""Text that every XML 1.0 parser accepts: the one filter for everything we write as XML.

XML 1.0 allows tab, line feed, carriage return and the characters from U+0020 on, except
the surrogate halves and U+FFFE/U+FFFF (the `Char` production, section 2.2). Anything else
makes the whole document unreadable for every client, and no escaping can carry it: `&#27;`
is as illegal as the raw character. So it is dropped; the JSON form of the same document
keeps the text as stored.
"""

import re

# Everything outside XML 1.0's Char production.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry (C0 controls, lone surrogates, U+FFFE/F)."""
    return _NOT_XML_CHAR.sub("", text)
