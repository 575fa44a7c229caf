"""Declarations of the pipeline layers: per utility its pipes, its points and its pipes due for
replacement, readable only by the utility's own department and emergency management.

Each layer reads a view of one utility's rows (migration 0007), so the access of a layer is the
access of exactly that utility's data in every endpoint: tiles, features, search, styles.
"""

from __future__ import annotations

from geoplatform.registry import Layer, Property
from layers.pipeline.utilities import UTILITIES, Utility, readers

_ASSET = (
    Property("code", "string", "编号 Code"),
    Property("network", "string", "管网 Network"),
    Property("utility", "string", "管线大类 Utility (CJJ 61)"),
    Property("subtype", "string", "管线小类 Sub-class (CJJ 61)"),
    Property("feature_code", "string", "要素代码 Feature code (CJJ 61 App. F)"),
    Property("install_year", "integer", "建设年代 Install year"),
    Property("owner", "string", "权属单位 Owner"),
    Property("status", "string", "状态 Status (0 在用, 1 废弃, 2 空管, 3 其他)"),
)

PIPE_PROPERTIES = (
    *_ASSET,
    Property("role", "string", "管段类型 Role"),
    Property("diameter_mm", "integer", "管径(mm) Diameter"),
    Property("material", "string", "材质 Material (CJJ 61 C.0.1)"),
    Property("start_node", "string", "起点点号 Start point"),
    Property("end_node", "string", "终点点号 End point"),
    Property("start_depth_m", "number", "起点埋深(m) Start depth"),
    Property("end_depth_m", "number", "终点埋深(m) End depth"),
    Property("start_ground_m", "number", "起点地面高程(m) Start ground level"),
    Property("end_ground_m", "number", "终点地面高程(m) End ground level"),
    Property("pressure_class", "string", "压力等级 Pressure class"),
    Property("laying", "string", "埋设方式 Laying (CJJ 61 C.0.2)"),
    Property("road_name", "string", "道路名称 Road"),
    Property("length_m", "number", "长度(m) Length"),
)

POINT_PROPERTIES = (
    *_ASSET,
    Property("kind", "string", "附属物/特征 Kind"),
    Property("pipe_code", "string", "所在管段 Pipe"),
    Property("normal_state", "string", "常态 Normal state (open/closed)"),
    Property("operable", "boolean", "可操作 Operable"),
    Property("source_kind", "string", "水源/气源类型 Source kind"),
    Property("building_id", "integer", "建筑物 Building"),
    Property("address", "string", "地址 Address"),
    Property("customers", "integer", "用户数 Customers"),
    Property("ground_m", "number", "地面高程(m) Ground level"),
    Property("depth_m", "number", "埋深(m) Depth"),
)

REPLACEMENT_PROPERTIES = (
    Property("code", "string", "编号 Code"),
    Property("network", "string", "管网 Network"),
    Property("utility", "string", "管线大类 Utility"),
    Property("material", "string", "材质 Material"),
    Property("diameter_mm", "integer", "管径(mm) Diameter"),
    Property("install_year", "integer", "建设年代 Install year"),
    Property("service_life_years", "integer", "设计使用年限 Service life (years)"),
    Property("age_years", "integer", "管龄 Age (years)"),
    Property("years_left", "integer", "剩余年限 Years left"),
    Property("warning", "string", "预警 Warning (overdue/due_soon)"),
    Property("road_name", "string", "道路名称 Road"),
    Property("length_m", "number", "长度(m) Length"),
)


def _pipe_style(color: str) -> tuple[dict, ...]:
    width = ["interpolate", ["linear"], ["coalesce", ["get", "diameter_mm"], 100], 25, 1, 600, 5]
    return (
        {
            "id": "line",
            "type": "line",
            "metadata": {"geoplatform:band": "overlay"},
            "layout": {"line-cap": "round", "line-join": "round"},
            "paint": {
                "line-color": color,
                "line-width": ["case", ["==", ["get", "role"], "service"], 0.8, width],
                "line-opacity": ["case", ["==", ["get", "status"], "0"], 1.0, 0.4],
            },
        },
    )


_POINT_COLORS = [
    "match",
    ["get", "kind"],
    "valve",
    "#1c7ed6",
    "hydrant",
    "#e03131",
    "source",
    "#2b8a3e",
    "service_connection",
    "#868e96",
    "#495057",
]


def _point_style(color: str) -> tuple[dict, ...]:
    return (
        {
            "id": "circle",
            "type": "circle",
            "metadata": {"geoplatform:band": "overlay"},
            "paint": {
                "circle-radius": [
                    "match",
                    ["get", "kind"],
                    "source",
                    7,
                    "service_connection",
                    2,
                    4,
                ],
                "circle-color": _POINT_COLORS,
                "circle-stroke-color": color,
                "circle-stroke-width": 1,
            },
        },
    )


_REPLACEMENT_STYLE = (
    {
        "id": "line",
        "type": "line",
        "metadata": {"geoplatform:band": "overlay"},
        "layout": {"line-cap": "round"},
        "paint": {
            "line-color": ["match", ["get", "warning"], "overdue", "#c92a2a", "#f59f00"],
            "line-width": 4,
        },
    },
)


def pipes_layer(utility: Utility) -> str:
    """The id of a utility's pipes layer: what an answer about its network may reveal."""
    return f"pipeline.{utility.name}_pipes"


def _layers_of(utility: Utility) -> tuple[Layer, ...]:
    access = readers(utility)
    common = {"access": access, "minzoom": 10, "maxzoom": 18, "search_rank": 7}
    return (
        Layer(
            id=pipes_layer(utility),
            title_zh=f"{utility.title_zh}管线",
            title_en=f"{utility.title_en} pipes",
            description_zh=f"{utility.title_zh}管段：管径、材质、埋深、建设年代、权属与状态"
            "（CJJ 61）。",
            description_en=f"{utility.title_en} pipe segments with diameter, material, depth, "
            "install year, owner and status (CJJ 61).",
            table=f"pipeline.{utility.name}_pipes",
            geometry_type="LineString",
            properties=PIPE_PROPERTIES,
            searchable=("code",),
            search_type="role",
            style=_pipe_style(utility.color),
            **common,
        ),
        Layer(
            id=f"pipeline.{utility.name}_points",
            title_zh=f"{utility.title_zh}管点",
            title_en=f"{utility.title_en} points",
            description_zh=f"{utility.title_zh}阀门、消火栓、检查井、接户点与水源/气源等。",
            description_en=f"{utility.title_en} valves, hydrants, wells, service connections "
            "and sources.",
            table=f"pipeline.{utility.name}_points",
            geometry_type="Point",
            properties=POINT_PROPERTIES,
            searchable=("code",),
            search_type="kind",
            style=_point_style(utility.color),
            **{**common, "minzoom": 13},
        ),
        Layer(
            id=f"pipeline.{utility.name}_replacement",
            title_zh=f"{utility.title_zh}管线更新预警",
            title_en=f"{utility.title_en} pipes due for replacement",
            description_zh="按材质设计使用年限与管龄计算：已超期或五年内到期的在用管段。",
            description_en="Pipes in use past their material's service life or within five "
            "years of it.",
            table=f"pipeline.{utility.name}_replacement",
            geometry_type="LineString",
            properties=REPLACEMENT_PROPERTIES,
            style=_REPLACEMENT_STYLE,
            **common,
        ),
    )


PIPELINE_LAYERS: tuple[Layer, ...] = tuple(
    layer for utility in UTILITIES for layer in _layers_of(utility)
)
