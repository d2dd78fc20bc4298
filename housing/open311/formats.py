"""GeoReport v2 documents as bytes: JSON, or XML with the spec's element names.

Pure. A list in JSON is a list of objects; in XML it is a root element holding one
element per item, named by the spec: <services><service>, <service_requests><request>,
<attributes><attribute>, <values><value>, <errors><error>.
"""

import json
from typing import Any
from xml.etree import ElementTree as ET

from housing.xmltext import xml_text

# The spec asks for this declaration, double quotes and all; ElementTree would write single ones.
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
JSON = "json"
XML = "xml"
FORMATS = (JSON, XML)
MEDIA_TYPES = {JSON: "application/json; charset=utf-8", XML: "text/xml; charset=utf-8"}

# The element each item of a list is wrapped in, by the list's own element name.
ITEM_ELEMENT = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
}


def error_list(status: int, description: str) -> list[dict[str, Any]]:
    return [{"code": status, "description": description}]


def to_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def to_xml(root: str, data: Any) -> bytes:
    """root names the document: a list's element (services) or an object's (service_definition)."""
    element = ET.Element(root)
    _fill(element, data)
    return XML_DECLARATION + ET.tostring(element, encoding="unicode").encode()


def render(fmt: str, root: str, data: Any) -> bytes:
    return to_json(data) if fmt == JSON else to_xml(root, data)


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for name, child in value.items():
            _fill(ET.SubElement(element, name), child)
    elif isinstance(value, list):
        item_name = ITEM_ELEMENT[element.tag]
        for item in value:
            _fill(ET.SubElement(element, item_name), item)
    else:
        text = _text(value)
        if text is not None:
            element.text = text


def _text(value: Any) -> str | None:
    """None is an empty element, so every field the spec names is there in XML too.

    Text goes through xml_text: one control character in a description would otherwise make
    the whole list unreadable for every client."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return xml_text(str(value))
