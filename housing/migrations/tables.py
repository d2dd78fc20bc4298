"""Imports every package's tables onto the metadata: what Alembic and the tests compare against.

It belongs to the composition root because it imports sensors and billing.
"""

import re

import billing.models  # noqa: F401
import housing.models  # noqa: F401
import sensors.models  # noqa: F401
from housing.open311 import models as open311_models  # noqa: F401
from housing.twin import models as twin_models  # noqa: F401

_PARTITION = re.compile(r"^reading_(default|\d{4}_\d{2})$")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Monthly partitions of `reading` are made by a job, not by models: autogenerate skips them."""
    return not (type_ == "table" and name is not None and _PARTITION.match(name))
