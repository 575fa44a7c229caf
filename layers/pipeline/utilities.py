"""The utilities of CJJ 61-2017 App. B: codes, names, colours and owner departments.

One table, so that layers, styles, the generator and the importer agree on what a utility is.
"""

from __future__ import annotations

from dataclasses import dataclass

from geoplatform.keys import Department
from geoplatform.refdata import read_table

# Departments that read every network besides its owner: a policy of the city, kept as data.
OTHER_READERS = frozenset(row["department"] for row in read_table("pipeline/readers"))


@dataclass(frozen=True)
class Utility:
    code: str  # CJJ 61 big-class code
    digit: str  # the big-class digit of App. F feature codes
    name: str  # English name, also the prefix of its layer ids and views
    title_zh: str
    title_en: str
    color: str  # CJJ 61 App. B colour
    department: str  # owner department (platform.departments)


UTILITIES = (
    Utility("JS", "1", "water", "给水", "Water supply", "#00ffff", "water_utility"),
    Utility("PS", "2", "drainage", "排水", "Drainage", "#4c3926", "drainage_utility"),
    Utility("RQ", "3", "gas", "燃气", "Gas", "#ff00ff", "gas_utility"),
    Utility("RL", "4", "heat", "热力", "District heating", "#ff8000", "heat_utility"),
    Utility("DL", "5", "power", "电力", "Power", "#ff0000", "power_utility"),
    Utility("TX", "6", "telecom", "通信", "Telecom", "#00ff00", "telecom_utility"),
)
# The owners' departments, as revisions 0003 and 0007 created them.
OWNER_DEPARTMENTS = (
    Department("water_utility", "水务集团", "Water Utility Group"),
    Department("drainage_utility", "排水公司", "Drainage Company"),
    Department("gas_utility", "燃气集团", "Gas Utility Group"),
    Department("heat_utility", "热力公司", "District Heating Company"),
    Department("power_utility", "供电公司", "Power Supply Company"),
    Department("telecom_utility", "通信管线单位", "Telecom Ducts Operator"),
)
BY_CODE = {utility.code: utility for utility in UTILITIES}
BY_NAME = {utility.name: utility for utility in UTILITIES}


def readers(utility: Utility) -> frozenset[str]:
    """Who may read a utility's network: its owner and the departments of
    data/pipeline/readers.csv (emergency management), nobody else."""
    return frozenset({utility.department, *OTHER_READERS})


def utility_by_name_or_code(value: str) -> Utility:
    """``water`` or ``JS`` -> the utility; ValueError naming the choices otherwise."""
    found = BY_NAME.get(value) or BY_CODE.get(value.upper())
    if found is None:
        choices = ", ".join(f"{u.name} ({u.code})" for u in UTILITIES)
        raise ValueError(f"unknown utility {value!r}; one of {choices}")
    return found
