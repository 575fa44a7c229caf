// The map studio: log in with a department key, pick layers, style them, save the map.
import * as maplibregl from "maplibre-gl";

const KEY = "geoplatform.studio.key";
const $ = (id) => document.getElementById(id);
let map;

/** A same-origin request carrying the key; rejects with the server's description on errors. */
async function api(path, options = {}) {
  const headers = { "X-API-Key": sessionStorage.getItem(KEY) ?? "", ...options.headers };
  const response = await fetch(path, { ...options, headers });
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(body?.description ?? `HTTP ${response.status}`);
  return body;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, attributes);
  node.append(...children);
  return node;
}

async function start() {
  let collections;
  try {
    collections = (await api("/collections")).collections;
  } catch (error) {
    sessionStorage.removeItem(KEY);
    $("login-error").textContent = error.message;
    return;
  }
  $("login").hidden = true;
  $("studio").hidden = false;
  $("layers").replaceChildren(...collections.map(layerRow));
  listMaps();
  map = new maplibregl.Map({
    container: "preview",
    style: "/styles/base.json",
    bounds: cityBounds(collections),
    fitBoundsOptions: { padding: 20 },
  });
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  window.__map = map;
}

function layerRow(collection) {
  const options = element("fieldset", { hidden: true });
  const label = element("select", { className: "label" }, element("option", { value: "" }, "—"));
  options.append(
    element("label", {}, "颜色 Colour ", element("input", { type: "color", className: "color", value: "#d0021b" })),
    element("label", {}, "不透明度 Opacity ",
      element("input", { type: "number", className: "opacity", min: 0, max: 1, step: 0.1, value: 1 })),
    element("label", {}, "标注 Label ", label),
    element("label", {}, "过滤 Filter (CQL2) ", element("input", { className: "filter", placeholder: "levels >= 3" })),
  );
  const box = element("input", { type: "checkbox", value: collection.id });
  box.addEventListener("change", async () => {
    options.hidden = !box.checked;
    if (box.checked && label.options.length === 1) {
      const schema = await api(`/collections/${encodeURIComponent(collection.id)}/queryables`);
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        if (!String(property.format ?? "").startsWith("geometry")) label.append(element("option", { value: name }, name));
      }
    }
  });
  const row = element("div", { className: "layer" }, element("label", {}, box, ` ${collection.title ?? collection.id}`), options);
  row.dataset.layer = collection.id;
  return row;
}

function spec() {
  const layers = [];
  for (const row of $("layers").children) {
    if (!row.querySelector("input[type=checkbox]").checked) continue;
    const item = {
      layer: row.dataset.layer,
      color: row.querySelector(".color").value,
      opacity: Number(row.querySelector(".opacity").value),
    };
    const label = row.querySelector(".label").value;
    const filter = row.querySelector(".filter").value.trim();
    if (label) item.label = label;
    if (filter) item.filter = filter;
    layers.push(item);
  }
  const centre = map.getCenter();
  const view = { center: [centre.lng, centre.lat], zoom: map.getZoom(), bearing: map.getBearing(), pitch: map.getPitch() };
  return { layers, view };
}

async function save(event) {
  event.preventDefault();
  $("save-error").textContent = "";
  $("saved").hidden = true;
  const body = { slug: $("slug").value, title: $("title").value, visibility: $("visibility").value, spec: spec() };
  try {
    const saved = await api("/maps", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const link = $("saved-link");
    link.href = `/m/${encodeURIComponent(saved.slug)}`;
    link.textContent = saved.title;
    $("saved").hidden = false;
    listMaps();
  } catch (error) {
    $("save-error").textContent = error.message;
  }
}

async function listMaps() {
  const { maps } = await api("/maps");
  $("maps").replaceChildren(
    ...maps.map((m) => element("li", {}, element("a", { href: `/m/${encodeURIComponent(m.slug)}` }, m.title), ` (${m.owner}, ${m.visibility})`)),
  );
}

/** The union of the layers' extents, [[west, south], [east, north]]. */
function cityBounds(layers) {
  const boxes = layers.flatMap((c) => c.extent?.spatial?.bbox ?? []);
  if (!boxes.length) return undefined;
  return [
    [Math.min(...boxes.map((b) => b[0])), Math.min(...boxes.map((b) => b[1]))],
    [Math.max(...boxes.map((b) => b[2])), Math.max(...boxes.map((b) => b[3]))],
  ];
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  sessionStorage.setItem(KEY, $("key").value.trim());
  start();
});
$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  location.reload();
});
$("map-form").addEventListener("submit", save);
if (sessionStorage.getItem(KEY)) start();
