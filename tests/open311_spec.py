"""GeoReport v2 response rules, written from the spec (wiki.open311.org/GeoReport_v2), to check
every answer of ours against, in JSON and in XML.

problems(kind, fmt, body) lists what breaks the rules; an empty list means the body is a
valid document of that kind. XML is parsed with the standard library only. The rules:

- the document's shape: a JSON list of objects (an object for a service definition), or an
  XML root element with one element per item, named as the spec names them;
- the fields each item may carry, and which it must;
- types: booleans are true/false, numbers are numbers (in XML, text that parses as one),
  datetimes are w3 (ISO 8601) with a time zone (Z or +HH:MM), statuses are open or closed,
  a service's type is realtime, batch or blackbox, an attribute's datatype is one of six.
"""

import json
import re
from typing import Any
from xml.etree import ElementTree as ET

W3_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

STRING, BOOL, INT, NUMBER, DATETIME = "string", "bool", "int", "number", "datetime"


def _one_of(*values: str) -> tuple[str, ...]:
    return values


# field -> (type, required). Required: what the spec's examples and prose never leave out.
SERVICE = {
    "service_code": (STRING, True),
    "service_name": (STRING, True),
    "description": (STRING, False),
    "metadata": (BOOL, True),
    "type": (_one_of("realtime", "batch", "blackbox"), True),
    "keywords": (STRING, False),
    "group": (STRING, False),
}
ATTRIBUTE = {
    "variable": (BOOL, True),
    "code": (STRING, True),
    "datatype": (_one_of("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"), True),
    "required": (BOOL, True),
    "datatype_description": (STRING, False),
    "order": (INT, True),
    "description": (STRING, True),
}
VALUE = {"key": (STRING, True), "name": (STRING, True)}
REQUEST = {
    "service_request_id": (STRING, True),
    "status": (_one_of("open", "closed"), True),
    "status_notes": (STRING, False),
    "service_name": (STRING, False),
    "service_code": (STRING, True),
    "description": (STRING, False),
    "agency_responsible": (STRING, False),
    "service_notice": (STRING, False),
    "requested_datetime": (DATETIME, True),
    "updated_datetime": (DATETIME, False),
    "expected_datetime": (DATETIME, False),
    "address": (STRING, False),
    "address_id": (STRING, False),
    "zipcode": (STRING, False),
    "lat": (NUMBER, False),
    "long": (NUMBER, False),
    "media_url": (STRING, False),
}
CREATED = {
    # The spec allows a token instead of an id for servers that file later; ours file at once.
    "service_request_id": (STRING, True),
    "token": (STRING, False),
    "service_notice": (STRING, False),
    "account_id": (STRING, False),
}
ERROR = {"code": (INT, True), "description": (STRING, True)}

# kind -> (XML root, XML item element, fields of an item)
LISTS = {
    "services": ("services", "service", SERVICE),
    "requests": ("service_requests", "request", REQUEST),
    "created": ("service_requests", "request", CREATED),
    "errors": ("errors", "error", ERROR),
}
KINDS = (*LISTS, "definition")


def problems(kind: str, fmt: str, body: bytes) -> list[str]:
    assert kind in KINDS, kind
    if fmt == "json":
        try:
            data = json.loads(body)
        except ValueError as exc:
            return [f"not JSON: {exc}"]
        return _json_document(kind, data)
    if not body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>'):
        return ['XML must start with the declaration <?xml version="1.0" encoding="UTF-8"?>']
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        return [f"not XML: {exc}"]
    return _xml_document(kind, root)


# JSON


def _json_document(kind: str, data: Any) -> list[str]:
    if kind == "definition":
        return _json_definition(data)
    _, _, fields = LISTS[kind]
    if not isinstance(data, list):
        return [f"a {kind} document is a JSON list, not {type(data).__name__}"]
    found = []
    for i, item in enumerate(data):
        found += _json_item(f"{kind}[{i}]", item, fields)
    if kind in ("errors", "created") and not data:
        found.append(f"a {kind} document lists at least one item")
    return found


def _json_item(where: str, item: Any, fields: dict) -> list[str]:
    if not isinstance(item, dict):
        return [f"{where} is not an object"]
    found = [f"{where}: {name} is not a GeoReport field" for name in item if name not in fields]
    for name, (kind, required) in fields.items():
        if name not in item or item[name] is None:
            if required:
                found.append(f"{where}: {name} is required")
            continue
        problem = _json_value(kind, item[name])
        if problem:
            found.append(f"{where}: {name} {problem}")
    return found


def _json_value(kind: Any, value: Any) -> str | None:
    if isinstance(kind, tuple):
        return None if value in kind else f"must be one of {', '.join(kind)}, not {value!r}"
    if kind == BOOL:
        return None if isinstance(value, bool) else f"must be true or false, not {value!r}"
    if kind == INT:
        return (
            None
            if isinstance(value, int) and not isinstance(value, bool)
            else f"must be an integer, not {value!r}"
        )
    if kind == NUMBER:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"must be a number, not {value!r}"
    if not isinstance(value, str):
        return f"must be a string, not {value!r}"
    if kind == DATETIME and not W3_DATETIME.match(value):
        return f"must be a w3 datetime with its offset, not {value!r}"
    return None


def _json_definition(data: Any) -> list[str]:
    if not isinstance(data, dict):
        return ["a service definition is a JSON object"]
    found = [
        f"{name} is not a service definition field"
        for name in data
        if name not in ("service_code", "attributes")
    ]
    if not isinstance(data.get("service_code"), str):
        found.append("service_code is required and a string")
    attributes = data.get("attributes")
    if not isinstance(attributes, list):
        return [*found, "attributes is required and a list"]
    for i, attribute in enumerate(attributes):
        where = f"attributes[{i}]"
        if not isinstance(attribute, dict):
            found.append(f"{where} is not an object")
            continue
        values = attribute.get("values")
        found += _json_item(where, {k: v for k, v in attribute.items() if k != "values"}, ATTRIBUTE)
        found += _values_rule(where, attribute.get("datatype"), values)
        for j, value in enumerate(values if isinstance(values, list) else []):
            found += _json_item(f"{where}.values[{j}]", value, VALUE)
    return found


def _values_rule(where: str, datatype: Any, values: Any) -> list[str]:
    if datatype in ("singlevaluelist", "multivaluelist") and not values:
        return [f"{where}: a {datatype} lists its values"]
    if values is not None and not isinstance(values, list):
        return [f"{where}: values is a list"]
    return []


# XML


def _xml_document(kind: str, root: ET.Element) -> list[str]:
    if kind == "definition":
        return _xml_definition(root)
    root_name, item_name, fields = LISTS[kind]
    if root.tag != root_name:
        return [f"the root element of {kind} is <{root_name}>, not <{root.tag}>"]
    found = []
    for i, item in enumerate(root):
        if item.tag != item_name:
            found.append(f"<{root_name}> holds <{item_name}> elements, not <{item.tag}>")
            continue
        found += _xml_item(f"{kind}[{i}]", item, fields)
    if kind in ("errors", "created") and len(root) == 0:
        found.append(f"a {kind} document lists at least one item")
    return found


def _xml_item(where: str, item: ET.Element, fields: dict, nested: tuple[str, ...] = ()) -> list[str]:
    found = []
    seen = {}
    for child in item:
        if child.tag in nested:
            continue
        if child.tag not in fields:
            found.append(f"{where}: <{child.tag}> is not a GeoReport element")
        elif child.tag in seen:
            found.append(f"{where}: <{child.tag}> appears twice")
        elif len(child):
            found.append(f"{where}: <{child.tag}> holds elements; it is a value")
        seen[child.tag] = child.text
    for name, (kind, required) in fields.items():
        text = seen.get(name)
        if text is None or text == "":
            if required:
                found.append(f"{where}: <{name}> is required")
            continue
        problem = _xml_value(kind, text)
        if problem:
            found.append(f"{where}: <{name}> {problem}")
    return found


def _xml_value(kind: Any, text: str) -> str | None:
    if kind == BOOL:
        return None if text in ("true", "false") else f"must be true or false, not {text!r}"
    if kind == INT:
        return None if re.fullmatch(r"-?\d+", text) else f"must be an integer, not {text!r}"
    if kind == NUMBER:
        try:
            float(text)
        except ValueError:
            return f"must be a number, not {text!r}"
        return None
    return _json_value(kind, text)


def _xml_definition(root: ET.Element) -> list[str]:
    if root.tag != "service_definition":
        return [f"the root element of a service definition is <service_definition>, not <{root.tag}>"]
    found = [
        f"<{child.tag}> is not a service definition element"
        for child in root
        if child.tag not in ("service_code", "attributes")
    ]
    if not (root.findtext("service_code") or ""):
        found.append("<service_code> is required")
    attributes = root.find("attributes")
    if attributes is None:
        return [*found, "<attributes> is required"]
    for i, attribute in enumerate(attributes):
        where = f"attributes[{i}]"
        if attribute.tag != "attribute":
            found.append(f"<attributes> holds <attribute> elements, not <{attribute.tag}>")
            continue
        found += _xml_item(where, attribute, ATTRIBUTE, nested=("values",))
        values = attribute.find("values")
        items = list(values) if values is not None else []
        found += _values_rule(where, attribute.findtext("datatype"), items or None)
        for j, value in enumerate(items):
            if value.tag != "value":
                found.append(f"{where}: <values> holds <value> elements, not <{value.tag}>")
                continue
            found += _xml_item(f"{where}.values[{j}]", value, VALUE)
    return found
