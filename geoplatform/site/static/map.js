// The public map: the base style over the city's extent, controls, layer panel, search, popups.
import * as maplibregl from "maplibre-gl";
import { currentLanguage, layerTitle, setLanguage } from "./i18n.js";
import { layerPanel } from "./layers.js";
import { featurePopups, reversePopups } from "./popups.js";
import { searchBox } from "./search.js";

const collections = (await (await fetch("/collections")).json()).collections;
const byId = new Map(collections.map((c) => [c.id, c]));
const titleOf = (layerId) => (byId.has(layerId) ? layerTitle(byId.get(layerId)) : undefined);

const map = new maplibregl.Map({
  container: "map",
  style: "/styles/base.json",
  bounds: cityBounds(collections),
  fitBoundsOptions: { padding: 20 },
  hash: true,
  attributionControl: false,
});
window.__map = map;
window.__mapIdle = false;
map.on("movestart", () => (window.__mapIdle = false));
map.on("idle", () => (window.__mapIdle = true));

map.addControl(new maplibregl.NavigationControl(), "top-right");
map.addControl(new maplibregl.ScaleControl(), "bottom-left");
map.addControl(new maplibregl.AttributionControl({ compact: false }), "bottom-right");

for (const button of document.querySelectorAll("[data-language]")) {
  button.addEventListener("click", () => setLanguage(button.dataset.language));
}
const panel = document.getElementById("panel");
const toggle = document.getElementById("panel-toggle");
toggle.addEventListener("click", () => {
  const collapsed = panel.classList.toggle("collapsed");
  toggle.setAttribute("aria-expanded", String(!collapsed));
});
if (window.matchMedia("(max-width: 640px)").matches) toggle.click();

map.once("load", () => {
  layerPanel(map, collections, document.getElementById("layer-list"));
  searchBox(
    map,
    document.getElementById("search"),
    document.getElementById("search-input"),
    document.getElementById("search-results"),
    titleOf,
  );
  featurePopups(map, titleOf);
  reversePopups(map);
  setLanguage(currentLanguage());
});

/** The union of the layers' extents, [[west, south], [east, north]]. */
function cityBounds(layers) {
  const boxes = layers.flatMap((c) => c.extent?.spatial?.bbox ?? []);
  if (!boxes.length) return undefined;
  return [
    [Math.min(...boxes.map((b) => b[0])), Math.min(...boxes.map((b) => b[1]))],
    [Math.max(...boxes.map((b) => b[2])), Math.max(...boxes.map((b) => b[3]))],
  ];
}
