"""Gazetteer quality on the demo city: real names of Liechtenstein as people type them (exact,
lower case, typos, partial, ß/ss, umlauts dropped or transliterated, word order, Chinese) in
``gazetteer_cases.csv``, each with the result that should come first (layer and name; ``|``
separates spellings of the same thing, e.g. one street's name in two municipalities). The
hit rates are printed; the issue asks for top-1 >= 0.8 and top-5 >= 0.95.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from layers.base.layers import BASE_LAYERS

CASES = Path(__file__).with_name("gazetteer_cases.csv")
TOP_1 = 0.8
TOP_5 = 0.95


@dataclass(frozen=True)
class Case:
    query: str
    layer: str
    names: tuple[str, ...]
    kind: str

    def hits(self, feature: dict) -> bool:
        properties = feature["properties"]
        return properties["layer"] == self.layer and properties["name"] in self.names


def load_cases() -> list[Case]:
    with CASES.open(encoding="utf-8", newline="") as file:
        return [
            Case(row["query"], row["layer"], tuple(row["name"].split("|")), row["kind"])
            for row in csv.DictReader(file)
        ]


def test_the_table_holds_enough_real_cases_of_every_kind():
    cases = load_cases()
    assert len(cases) >= 30
    assert len({case.query for case in cases}) == len(cases)
    kinds = {case.kind for case in cases}
    for kind in ("exact", "typo", "partial", "lower case", "eszett", "umlaut missing", "chinese"):
        assert kind in kinds, kind


def test_the_expected_results_exist_in_the_demo_city(demo_engine):
    tables = {layer.id: (layer.table, layer.label_column) for layer in BASE_LAYERS}
    with demo_engine.connect() as conn:
        for case in load_cases():
            table, column = tables[case.layer]
            found = conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE {column} = ANY(:names)"),
                {"names": list(case.names)},
            ).scalar_one()
            assert found, case


def test_hit_rates(client, capsys):
    cases = load_cases()
    top_1 = top_5 = 0
    misses = []
    for case in cases:
        response = client.get("/search", query_string={"q": case.query, "limit": 5})
        assert response.status_code == 200, case
        found = response.json["features"]
        first = bool(found) and case.hits(found[0])
        top_1 += first
        top_5 += any(case.hits(feature) for feature in found)
        if not first:
            best = [f["properties"]["label"] for f in found[:3]]
            misses.append(f"  {case.query!r}: expected {case.names[0]} ({case.layer}), got {best}")
    rate_1, rate_5 = top_1 / len(cases), top_5 / len(cases)
    with capsys.disabled():
        print(
            f"\ngazetteer: {len(cases)} cases, top-1 {rate_1:.3f} ({top_1}), "
            f"top-5 {rate_5:.3f} ({top_5})"
        )
        print("\n".join(misses))
    assert rate_1 >= TOP_1 and rate_5 >= TOP_5, "\n".join(misses)


@pytest.mark.parametrize(
    ("spelling", "folded"),
    [
        ("Schaanerstraße", "schaanerstrasse"),
        ("Schaaner Strasse", "schaaner strasse"),
        ("schaanerstr.", "schaanerstrasse"),
        ("Dr. Josef Hoop-Str.", "dr josef hoop strasse"),
        ("Mühleholz", "muhleholz"),
        ("Muehleholz", "muhleholz"),
        ('  Kindergaten  "Schule" ', "kindergaten schule"),
        ("瓦杜茲", "瓦杜茲"),
    ],
)
def test_names_and_queries_fold_to_one_spelling(demo_engine, spelling, folded):
    with demo_engine.connect() as conn:
        result = conn.execute(text("SELECT platform.search_fold(:s)"), {"s": spelling})
        assert result.scalar_one() == folded
