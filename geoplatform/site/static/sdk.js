// The geoplatform embed SDK. On any page, of any origin:
//
//   import { map } from "https://<platform>/sdk.js";
//   const m = await map(document.getElementById("map"), { layers: ["base.roads"] });
//
// or <script type="module" src="https://<platform>/sdk.js"> and window.geoplatform.map(...).
// The platform is where this script came from (import.meta.url): styles, tiles, glyphs and
// MapLibre GL JS itself all come from there, never from elsewhere.
//
// options:
//   map      slug of a saved map: its style /maps/{slug}/style.json
//   layers   layer ids, e.g. ["base.roads", "base.buildings"]: the base style /styles/base.json
//            keeping only those layers' style layers and the background, in the base map's
//            drawing order, its tile sources narrowed to those layers
//   center   [lon, lat]; zoom: a number. Default: the style's view, else the layers' TileJSON
//   apiKey   sent as X-API-Key with every request to the platform (and only to it)
//   lang     "zh" (default: Chinese names where known) or "en" (English names where known)
// Returns a Promise of the MapLibre map, resolved once the map has loaded.

// The /sdk.js route writes the installed MapLibre version here.
const MAPLIBRE_VERSION = "__MAPLIBRE_VERSION__";
const ROOT = new URL("./", import.meta.url);
const PLATFORM_ORIGIN = ROOT.origin;

let maplibre;

/** MapLibre GL JS from the platform's vendor route, and its stylesheet, once per page. */
function loadMapLibre() {
  if (!maplibre) {
    const dist = new URL(`static/vendor/maplibre-gl/${MAPLIBRE_VERSION}/`, ROOT);
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("maplibre-gl.css", dist).href;
    document.head.append(link);
    maplibre = import(new URL("maplibre-gl.mjs", dist).href);
  }
  return maplibre;
}

export async function map(element, options = {}) {
  const container = typeof element === "string" ? document.querySelector(element) : element;
  if (!container) throw new Error(`geoplatform.map: no element ${element}`);
  const [maplibregl, style] = await Promise.all([loadMapLibre(), loadStyle(options)]);
  const mapOptions = { container, style, attributionControl: { compact: true } };
  if (options.center) mapOptions.center = options.center;
  if (options.zoom !== undefined) mapOptions.zoom = options.zoom;
  if (options.apiKey) mapOptions.transformRequest = keyedRequests(options.apiKey);
  const created = new maplibregl.Map(mapOptions);
  created.addControl(new maplibregl.NavigationControl(), "top-right");
  return new Promise((resolve, reject) => {
    const failBeforeLoad = (event) => {
      if (!created.loaded()) reject(event.error ?? new Error("the map failed to load"));
    };
    created.once("error", failBeforeLoad);
    created.once("load", () => {
      created.off("error", failBeforeLoad);
      resolve(created);
    });
  });
}

async function loadStyle(options) {
  if (options.map && options.layers) throw new Error("geoplatform.map: give map or layers, not both");
  let style;
  if (options.map) {
    style = await fetchJson(`maps/${encodeURIComponent(options.map)}/style.json`, options.apiKey);
  } else if (options.layers?.length) {
    style = await layersStyle(options.layers, options.apiKey);
  } else {
    throw new Error("geoplatform.map: options need map (a saved map's slug) or layers");
  }
  return options.lang === "en" ? withEnglishNames(style) : style;
}

/** The base style with only the given layers' style layers (and the background). */
async function layersStyle(layerIds, apiKey) {
  const base = await fetchJson("styles/base.json", apiKey);
  const wanted = new Set(layerIds);
  const present = new Set(base.layers.map((layer) => layer["source-layer"]));
  const unknown = layerIds.filter((id) => !present.has(id));
  if (unknown.length) throw new Error(`geoplatform.map: unknown or unreadable layers ${unknown}`);
  const layers = base.layers.filter((l) => l.type === "background" || wanted.has(l["source-layer"]));
  const sources = {};
  for (const layer of layers) {
    if (layer.source && !sources[layer.source]) {
      sources[layer.source] = narrowedSource(base.sources[layer.source], wanted);
    }
  }
  const style = { ...base, sources, layers };
  if (!style.center) await centreOnTheLayers(style, apiKey);
  return style;
}

/** A composite source's TileJSON URL (…/tiles/a,b,c.json) narrowed to the wanted layers. */
function narrowedSource(source, wanted) {
  const url = new URL(source.url);
  const composite = url.pathname.match(/\/tiles\/([^/]+)\.json$/);
  if (!composite) return source;
  const kept = decodeURIComponent(composite[1]).split(",").filter((id) => wanted.has(id));
  url.pathname = url.pathname.replace(/[^/]+\.json$/, `${kept.join(",")}.json`);
  return { ...source, url: url.href };
}

async function centreOnTheLayers(style, apiKey) {
  const [first] = Object.values(style.sources);
  const tilejson = await fetchJson(first.url, apiKey);
  if (tilejson.center) {
    style.center = tilejson.center.slice(0, 2);
    style.zoom = tilejson.center[2];
  }
}

/** Labels that name a feature in Chinese name it in English instead, where the data know it. */
function withEnglishNames(style) {
  const swap = (value) =>
    Array.isArray(value)
      ? value.length === 2 && value[0] === "get" && value[1] === "name_zh"
        ? ["get", "name_en"]
        : value.map(swap)
      : value;
  const layers = style.layers.map((layer) =>
    layer.layout?.["text-field"]
      ? { ...layer, layout: { ...layer.layout, "text-field": swap(layer.layout["text-field"]) } }
      : layer,
  );
  return { ...style, layers };
}

function keyedRequests(apiKey) {
  return (url) =>
    new URL(url, location.href).origin === PLATFORM_ORIGIN
      ? { url, headers: { "X-API-Key": apiKey } }
      : { url };
}

async function fetchJson(path, apiKey) {
  const url = new URL(path, ROOT);
  const headers = apiKey && url.origin === PLATFORM_ORIGIN ? { "X-API-Key": apiKey } : {};
  const response = await fetch(url, { headers });
  if (!response.ok) throw new Error(`geoplatform.map: ${url} answered ${response.status}`);
  return response.json();
}

window.geoplatform = { map };
