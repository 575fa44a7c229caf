// The burst isolation map: log in with a department key, click a pipe, see what to close.
import * as maplibregl from "maplibre-gl";
import { keyedClient } from "geoplatform/keyed";

const { hasKey, remember, forget, api, withKey } = keyedClient("geoplatform.pipeline.key");
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let map;

function utilityLayer(network) {
  return `pipeline.${network.utility_name}_pipes`;
}

async function start() {
  let networks;
  try {
    networks = (await api("/pipeline/networks")).networks;
  } catch (error) {
    forget();
    $("login-error").textContent = error.message;
    return;
  }
  if (!networks.length) {
    $("login-error").textContent = "此密钥无可读管网 No network is readable with this key";
    return;
  }
  $("login").hidden = true;
  $("tool").hidden = false;
  $("network").replaceChildren(
    ...networks.map((n) => new Option(`${n.title_zh} ${n.title_en} (${n.code})`, n.code)),
  );
  if (params.get("network")) $("network").value = params.get("network");
  const byCode = Object.fromEntries(networks.map((n) => [n.code, n]));
  map = new maplibregl.Map({
    container: "map",
    style: "/styles/base.json",
    // The loaded city's extent, as the page was given it (no city: the style's own view).
    ...(cityBounds() ? { bounds: cityBounds(), fitBoundsOptions: { padding: 20 } } : {}),
    // Confidential tiles need the key; other origins never get it.
    transformRequest: withKey,
  });
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl(), "bottom-left");
  window.__map = map;
  map.on("load", () => {
    showNetwork(byCode[$("network").value]);
    if (params.get("pipe")) isolate({ pipe: params.get("pipe") });
  });
  $("network").addEventListener("change", () => showNetwork(byCode[$("network").value]));
  map.on("click", (event) => isolate({ point: [event.lngLat.lng, event.lngLat.lat] }));
}

function showNetwork(network) {
  if (map.getLayer("network-pipes")) map.removeLayer("network-pipes");
  if (map.getSource("network")) map.removeSource("network");
  const layer = utilityLayer(network);
  map.addSource("network", {
    type: "vector",
    tiles: [`${location.origin}/tiles/${layer}/{z}/{x}/{y}.mvt`],
    minzoom: 10,
    maxzoom: 18,
  });
  map.addLayer({
    id: "network-pipes",
    type: "line",
    source: "network",
    "source-layer": layer,
    filter: ["==", ["get", "network"], network.code],
    paint: { "line-color": "#0b7285", "line-width": ["case", ["==", ["get", "role"], "service"], 0.6, 2] },
  });
}

async function isolate(burst) {
  $("error").textContent = "";
  let report;
  try {
    report = await api("/pipeline/isolation", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ network: $("network").value, ...burst }),
    });
  } catch (error) {
    $("error").textContent = error.message;
    return;
  }
  drawResult(report);
  const s = report.summary;
  $("summary").replaceChildren(
    ...[
      ["爆管管段 Burst pipe", report.burst.pipe_code],
      ["关阀 Valves", s.valves_to_close],
      ["停用管长 Isolated (m)", s.isolated_length_m],
      ["连带失压 Cut off (m)", s.cut_off_length_m],
      ["受影响建筑 Buildings", s.buildings],
      ["受影响用户 Customers", s.customers],
    ].map(([k, v]) => {
      const row = document.createElement("tr");
      row.append(Object.assign(document.createElement("th"), { textContent: k }));
      row.append(Object.assign(document.createElement("td"), { textContent: String(v) }));
      return row;
    }),
  );
  $("valves").replaceChildren(
    ...report.valves_to_close.map((v) => Object.assign(document.createElement("li"), { textContent: v })),
  );
  $("order").href = `/pipeline/isolation/order?network=${encodeURIComponent(report.network)}` +
    `&pipe=${encodeURIComponent(report.burst.pipe_code)}`;
  $("result").hidden = false;
  document.body.dataset.isolated = report.burst.pipe_code;
}

function drawResult(report) {
  const data = report.geojson;
  if (map.getSource("isolation")) {
    map.getSource("isolation").setData(data);
  } else {
    map.addSource("isolation", { type: "geojson", data });
    const kind = (k) => ["==", ["get", "kind"], k];
    map.addLayer({
      id: "isolation-pipes", type: "line", source: "isolation", filter: kind("pipe"),
      paint: {
        "line-color": ["match", ["get", "role"], "isolated", "#e8590c", "#fab005"],
        "line-width": 6, "line-opacity": 0.85,
      },
    });
    map.addLayer({
      id: "isolation-connections", type: "circle", source: "isolation", filter: kind("service_connection"),
      paint: { "circle-radius": 3, "circle-color": "#495057" },
    });
    map.addLayer({
      id: "isolation-valves", type: "circle", source: "isolation", filter: kind("valve"),
      paint: {
        "circle-radius": 7, "circle-stroke-width": 2, "circle-stroke-color": "#fff",
        "circle-color": ["match", ["get", "role"], "close", "#1c7ed6", "#c92a2a"],
      },
    });
    map.addLayer({
      id: "isolation-burst", type: "circle", source: "isolation", filter: kind("burst"),
      paint: { "circle-radius": 9, "circle-color": "#c92a2a", "circle-stroke-width": 3, "circle-stroke-color": "#fff" },
    });
  }
  const bounds = new maplibregl.LngLatBounds();
  for (const feature of data.features) {
    const g = feature.geometry;
    (g.type === "Point" ? [g.coordinates] : g.coordinates).forEach((c) => bounds.extend(c));
  }
  map.fitBounds(bounds, { padding: 60, maxZoom: 18, duration: 0 });
  map.once("idle", () => { document.body.dataset.drawn = report.burst.pipe_code; });
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  remember($("key").value);
  start();
});
if (hasKey()) start();

function cityBounds() {
  const bounds = JSON.parse(document.body.dataset.bounds || "null");
  return Array.isArray(bounds) ? bounds : null;
}
