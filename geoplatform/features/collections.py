"""``/collections``: the layers the caller may read, with title, extent and feature count.

Each collection also says which CRSs its items come in (OGC API Features Part 2: ``crs``, with
CRS84 first as the default, and ``storageCrs``) and links its items and queryables.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.engine import Connection

from geoplatform import city
from geoplatform.auth import Principal, readable_layer, readable_layers
from geoplatform.crs import CRS84_URI
from geoplatform.features.crs import STORAGE_CRS_URI, supported_uris
from geoplatform.features.openapi import operation
from geoplatform.layer_state import LayerState, layer_states
from geoplatform.registry import Layer, Registry

QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
LinkProvider = Callable[[Layer, str], list[dict]]


def collection_document(
    layer: Layer,
    state: LayerState | None,
    base_url: str,
    link_providers=(),
    crs: list[str] | None = None,
) -> dict:
    href = f"{base_url}collections/{layer.id}"
    document = {
        "id": layer.id,
        "title": layer.title_zh,
        "title_en": layer.title_en,
        "description": layer.description_zh or layer.description_en,
        "description_en": layer.description_en,
        "itemType": "feature",
        "geometryType": layer.geometry_type,
        "featureCount": state.feature_count if state else 0,
        "dataVersion": state.version if state else None,
        "crs": crs or [CRS84_URI],
        "storageCrs": STORAGE_CRS_URI,
        "links": [
            {"rel": "self", "type": "application/json", "href": href},
            {"rel": "items", "type": "application/geo+json", "href": f"{href}/items"},
            {
                "rel": QUERYABLES_REL,
                "type": "application/schema+json",
                "href": f"{href}/queryables",
            },
        ],
    }
    for provider in link_providers:
        document["links"].extend(provider(layer, base_url))
    if layer.attribution:
        document["attribution"] = layer.attribution
    if state and state.bbox:
        document["extent"] = {"spatial": {"bbox": [list(state.bbox)], "crs": CRS84_URI}}
    return document


def make_collections_blueprint(
    registry: Registry,
    principal: Callable[[], Principal],
    link_providers: tuple[LinkProvider, ...] = (),
) -> Blueprint:
    blueprint = Blueprint("collections", __name__)

    @blueprint.get("/collections")
    @operation(summary="Collections the caller may read", tags=["capabilities"])
    def collections():
        layers = readable_layers(registry, principal())
        engine = current_app.extensions["geoplatform"].engine
        with engine.connect() as conn:
            states = layer_states(conn)
            crs = _crs_uris(conn)
        base_url = request.host_url
        return jsonify(
            collections=[
                collection_document(x, states.get(x.id), base_url, link_providers, crs)
                for x in layers
            ],
            links=[{"rel": "self", "type": "application/json", "href": f"{base_url}collections"}],
        )

    @blueprint.get("/collections/<layer_id>")
    @operation(
        summary="One collection: titles, extent, CRSs, links to items, queryables and tiles",
        tags=["capabilities"],
        parameters=[{"$ref": "#/components/parameters/collectionId"}],
        responses={
            "200": {"description": "The collection", "content": {"application/json": {}}},
            "404": {"$ref": "#/components/responses/NotFound"},
        },
    )
    def collection(layer_id: str):
        layer = readable_layer(registry, principal(), layer_id)
        engine = current_app.extensions["geoplatform"].engine
        with engine.connect() as conn:
            state = layer_states(conn).get(layer.id)
            crs = _crs_uris(conn)
        return jsonify(collection_document(layer, state, request.host_url, link_providers, crs))

    return blueprint


def _crs_uris(conn: Connection) -> list[str]:
    """The CRSs items come in; the city's projected one is the one recorded when it was loaded."""
    projected = city.projected_srid(conn)
    return supported_uris(
        projected or current_app.extensions["geoplatform"].settings.projected_srid
    )
