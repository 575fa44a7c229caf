"""``/collections``: the layers the caller may read, with title, extent and feature count."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, jsonify, request

from geoplatform.auth import Principal, readable_layer, readable_layers
from geoplatform.crs import CRS84_URI
from geoplatform.layer_state import LayerState, layer_states
from geoplatform.registry import Layer, Registry

LinkProvider = Callable[[Layer, str], list[dict]]


def collection_document(
    layer: Layer, state: LayerState | None, base_url: str, link_providers=()
) -> dict:
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
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base_url}collections/{layer.id}"}
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
    def collections():
        layers = readable_layers(registry, principal())
        engine = current_app.extensions["geoplatform"].engine
        with engine.connect() as conn:
            states = layer_states(conn)
        base_url = request.host_url
        return jsonify(
            collections=[
                collection_document(x, states.get(x.id), base_url, link_providers) for x in layers
            ],
            links=[{"rel": "self", "type": "application/json", "href": f"{base_url}collections"}],
        )

    @blueprint.get("/collections/<layer_id>")
    def collection(layer_id: str):
        layer = readable_layer(registry, principal(), layer_id)
        engine = current_app.extensions["geoplatform"].engine
        with engine.connect() as conn:
            state = layer_states(conn).get(layer.id)
        return jsonify(collection_document(layer, state, request.host_url, link_providers))

    return blueprint
