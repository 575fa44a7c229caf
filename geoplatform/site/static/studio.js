// The map studio: log in with a department key, pick layers and style them, see them drawn as
// they will be saved, save the map; edit or delete the department's saved maps.
import * as maplibregl from "maplibre-gl";
import { keyedClient } from "geoplatform/keyed";

const { hasKey, remember, forget, call, api, withKey } = keyedClient("geoplatform.studio.key");
const DEFAULT_COLOUR = "#d0021b";
const PREVIEW_DELAY_MS = 300;
const $ = (id) => document.getElementById(id);
let map;
let me; // the caller, as /auth/whoami tells
let editing = null; // the saved map the form edits: { slug, etag, saved } (saved: GET /maps/{slug})
let previewTimer;
let previewCount = 0;
const labelsLoading = new WeakMap();

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, attributes);
  node.append(...children);
  return node;
}

async function start() {
  let collections;
  try {
    me = await api("/auth/whoami");
    collections = (await api("/collections")).collections;
  } catch (error) {
    forget();
    $("login-error").textContent = error.message;
    return;
  }
  $("login").hidden = true;
  $("studio").hidden = false;
  $("whoami").textContent = `已登录 Logged in as ${me.department_name_zh ?? me.department} (${me.role})`;
  $("layers").replaceChildren(...collections.map(layerRow));
  map = new maplibregl.Map({
    container: "preview",
    style: "/styles/base.json",
    bounds: cityBounds(collections),
    fitBoundsOptions: { padding: 20 },
    transformRequest: withKey,
  });
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  window.__map = map;
  window.__mapIdle = false;
  map.on("movestart", () => (window.__mapIdle = false));
  map.on("idle", () => (window.__mapIdle = true));
  listMaps();
}

function layerRow(collection) {
  const options = element("fieldset", { hidden: true });
  const label = element("select", { className: "label" }, element("option", { value: "" }, "—"));
  options.append(
    element("label", {}, "颜色 Colour ", element("input", { type: "color", className: "color", value: DEFAULT_COLOUR })),
    element("label", {}, "不透明度 Opacity ",
      element("input", { type: "number", className: "opacity", min: 0, max: 1, step: 0.1, value: 1 })),
    element("label", {}, "标注 Label ", label),
    element("label", {}, "过滤 Filter (CQL2) ", element("input", { className: "filter", placeholder: "levels >= 3" })),
  );
  const box = element("input", { type: "checkbox", value: collection.id });
  const row = element("div", { className: "layer" }, element("label", {}, box, ` ${collection.title ?? collection.id}`), options);
  row.dataset.layer = collection.id;
  box.addEventListener("change", () => {
    options.hidden = !box.checked;
    if (box.checked) labelChoices(row);
  });
  // Ticking, colour, opacity, label, filter: any change of the row redraws the preview.
  row.addEventListener("input", schedulePreview);
  row.addEventListener("change", schedulePreview);
  return row;
}

/** The row's label choices, the layer's properties other than its geometry, asked for once. */
function labelChoices(row) {
  if (!labelsLoading.has(row)) {
    const loading = api(`/collections/${encodeURIComponent(row.dataset.layer)}/queryables`).then((schema) => {
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        if (!String(property.format ?? "").startsWith("geometry")) {
          row.querySelector(".label").append(element("option", { value: name }, name));
        }
      }
    });
    labelsLoading.set(row, loading);
  }
  return labelsLoading.get(row);
}

/** The spec the form describes, at the preview's view. Of an edited map, what the form does not
 * show (layer order, visibility, zoom range, base map) is kept as it was saved. */
function spec() {
  const savedOrder = editing?.saved.spec.layers.map((item) => item.layer) ?? [];
  const rank = (item) => {
    const index = savedOrder.indexOf(item.layer);
    return index === -1 ? savedOrder.length : index;
  };
  const layers = [...$("layers").children]
    .filter((row) => row.querySelector("input[type=checkbox]").checked)
    .map(layerItem)
    .sort((a, b) => rank(a) - rank(b));
  const centre = map.getCenter().wrap();
  const view = { center: [centre.lng, centre.lat], zoom: map.getZoom(), bearing: map.getBearing(), pitch: map.getPitch() };
  return { layers, view, basemap: editing?.saved.spec.basemap ?? true };
}

function layerItem(row) {
  const saved = editing?.saved.spec.layers.find((item) => item.layer === row.dataset.layer);
  const item = {
    layer: row.dataset.layer,
    color: row.querySelector(".color").value,
    opacity: Number(row.querySelector(".opacity").value),
  };
  if (saved?.visible === false) item.visible = false;
  if (saved?.minzoom != null) item.minzoom = saved.minzoom;
  if (saved?.maxzoom != null) item.maxzoom = saved.maxzoom;
  const label = row.querySelector(".label").value;
  const filter = row.querySelector(".filter").value.trim();
  if (label) item.label = label;
  if (filter) item.filter = filter;
  return item;
}

function mapBody() {
  return {
    slug: $("slug").value,
    title: $("title").value,
    description: editing?.saved.description ?? "",
    visibility: $("visibility").value,
    spec: spec(),
  };
}

/** POST a new map, or PUT the edited one with If-Match: its ETag (412 when someone else has
 * changed it since; the server's message says so). */
async function save(event) {
  event.preventDefault();
  $("save-error").textContent = "";
  $("saved").hidden = true;
  const json = { "Content-Type": "application/json" };
  const body = JSON.stringify(mapBody());
  try {
    const { body: saved, etag } = editing
      ? await call(`/maps/${encodeURIComponent(editing.slug)}`, {
          method: "PUT",
          headers: { ...json, "If-Match": editing.etag },
          body,
        })
      : await call("/maps", { method: "POST", headers: json, body });
    startEditing(saved, etag);
    const link = $("saved-link");
    link.href = `/m/${encodeURIComponent(saved.slug)}`;
    link.textContent = saved.title;
    $("saved").hidden = false;
    listMaps();
  } catch (error) {
    $("save-error").textContent = error.message;
  }
}

/** Load a saved map into the form and move the preview to its view. */
async function edit(slug) {
  $("maps-error").textContent = "";
  let found;
  try {
    found = await call(`/maps/${encodeURIComponent(slug)}`);
  } catch (error) {
    $("maps-error").textContent = error.message;
    return;
  }
  const saved = found.body;
  startEditing(saved, found.etag);
  $("title").value = saved.title;
  $("visibility").value = saved.visibility;
  $("save-error").textContent = "";
  $("saved").hidden = true;
  const items = new Map(saved.spec.layers.map((item) => [item.layer, item]));
  await Promise.all([...$("layers").children].map((row) => fillRow(row, items.get(row.dataset.layer))));
  const { center, zoom, bearing, pitch } = saved.spec.view;
  map.jumpTo({ center, zoom, bearing, pitch });
  schedulePreview();
}

function startEditing(saved, etag) {
  editing = { slug: saved.slug, etag, saved };
  $("slug").value = saved.slug;
  $("slug").readOnly = true;
  $("editing-slug").textContent = saved.slug;
  $("editing").hidden = false;
}

/** Back to a new, empty map. */
function newMap() {
  editing = null;
  $("editing").hidden = true;
  $("slug").readOnly = false;
  for (const id of ["title", "slug"]) $(id).value = "";
  $("visibility").value = "public";
  $("save-error").textContent = "";
  $("saved").hidden = true;
  for (const row of $("layers").children) fillRow(row, undefined);
  schedulePreview();
}

/** A layer row as the spec item says (unticked and reset without one). */
async function fillRow(row, item) {
  row.querySelector("input[type=checkbox]").checked = Boolean(item);
  row.querySelector("fieldset").hidden = !item;
  row.querySelector(".color").value = sixDigitColour(item?.color ?? DEFAULT_COLOUR);
  row.querySelector(".opacity").value = item?.opacity ?? 1;
  row.querySelector(".filter").value = item?.filter ?? "";
  if (item) await labelChoices(row);
  row.querySelector(".label").value = item?.label ?? "";
}

/** "#rrggbb", the only form a colour input takes; a spec may hold "#rgb" too. */
function sixDigitColour(colour) {
  const short = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(colour);
  return (short ? `#${short[1]}${short[1]}${short[2]}${short[2]}${short[3]}${short[3]}` : colour).toLowerCase();
}

async function remove(summary) {
  if (!confirm(`删除地图 Delete the map “${summary.title}” (${summary.slug})?`)) return;
  $("maps-error").textContent = "";
  try {
    const etag = `"${summary.version}"`;
    await call(`/maps/${encodeURIComponent(summary.slug)}`, { method: "DELETE", headers: { "If-Match": etag } });
  } catch (error) {
    $("maps-error").textContent = error.message;
    return;
  }
  if (editing?.slug === summary.slug) newMap();
  listMaps();
}

/** The maps of the caller's department, each with Edit and Delete. */
async function listMaps() {
  let maps;
  try {
    ({ maps } = await api("/maps"));
  } catch (error) {
    $("maps-error").textContent = error.message;
    return;
  }
  $("maps").replaceChildren(...maps.filter((m) => m.owner === me.department).map(mapItem));
}

function mapItem(summary) {
  const editButton = element("button", { type: "button", className: "edit" }, "编辑 Edit");
  editButton.addEventListener("click", () => edit(summary.slug));
  const deleteButton = element("button", { type: "button", className: "delete" }, "删除 Delete");
  deleteButton.addEventListener("click", () => remove(summary));
  const link = element("a", { href: `/m/${encodeURIComponent(summary.slug)}` }, summary.title);
  const item = element("li", {}, link, ` (${summary.visibility})`, editButton, deleteButton);
  item.dataset.slug = summary.slug;
  return item;
}

function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, PREVIEW_DELAY_MS);
}

/** Draw the form's map exactly as it would be saved: the server builds the style from the spec
 * (POST /maps/preview/style.json) as it builds a saved map's. */
async function preview() {
  const count = ++previewCount;
  const body = { title: $("title").value, spec: spec() };
  let style = "/styles/base.json";
  if (body.spec.layers.length) {
    try {
      style = await api("/maps/preview/style.json", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (error) {
      if (count === previewCount) $("preview-error").textContent = error.message;
      return;
    }
    // The camera stays where the user (or the edited map's view) put it.
    for (const camera of ["center", "zoom", "bearing", "pitch"]) delete style[camera];
  }
  if (count !== previewCount) return; // a later change is drawn instead
  $("preview-error").textContent = "";
  window.__mapIdle = false;
  map.setStyle(style);
  map.triggerRepaint(); // so that "idle" follows even when the style did not change
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
  remember($("key").value);
  start();
});
$("logout").addEventListener("click", () => {
  forget();
  location.reload();
});
$("new-map").addEventListener("click", newMap);
$("map-form").addEventListener("submit", save);
if (hasKey()) start();
