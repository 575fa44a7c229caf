// Popups: a clicked feature's public attributes, and what lies at a right-clicked point.
import { Popup } from "maplibre-gl";
import { onLanguageChange, t, titlePart } from "./i18n.js";

// layer id -> Promise of {property name: its declared "中文 English" title}, asked once per layer.
const propertyTitles = new Map();
// The open popup and how to draw its content, redrawn when the language changes.
let current;

/** Click: the top rendered feature of a layer from /collections, then its full attributes. */
export function featurePopups(map, titleOf) {
  onLanguageChange(() => {
    if (current?.popup.isOpen()) current.popup.setDOMContent(current.content());
  });
  map.on("click", async (event) => {
    const feature = map
      .queryRenderedFeatures(event.point)
      .find((f) => titleOf(f.sourceLayer) !== undefined);
    if (!feature) return;
    const titles = await titlesOf(feature.sourceLayer);
    let properties = feature.properties;
    const content = () => attributes(titleOf(feature.sourceLayer), properties, titles);
    const popup = show(map, event.lngLat, {}, content);
    if (feature.id === undefined) return;
    const url = `/collections/${feature.sourceLayer}/items/${encodeURIComponent(feature.id)}`;
    const response = await fetch(url);
    if (response.ok && popup.isOpen()) {
      properties = (await response.json()).properties;
      popup.setDOMContent(content());
    }
  });
}

/** Right-click: /reverse at that point, the admin areas and the nearest address and road. */
export function reversePopups(map) {
  map.on("contextmenu", async (event) => {
    const { lng, lat } = event.lngLat;
    const response = await fetch(`/reverse?lon=${lng.toFixed(6)}&lat=${lat.toFixed(6)}`);
    if (!response.ok) return;
    const found = await response.json();
    show(map, event.lngLat, { className: "reverse" }, () =>
      attributes(t("here"), {
        [t("admin")]: found.admin_areas.map((a) => a.name).join(" › ") || "—",
        [t("address")]: nearest(found.address),
        [t("road")]: nearest(found.road),
      }),
    );
  });
}

function show(map, lngLat, options, content) {
  const popup = new Popup({ maxWidth: "320px", ...options })
    .setLngLat(lngLat)
    .setDOMContent(content())
    .addTo(map);
  current = { popup, content };
  return popup;
}

/** The layer's property titles from its queryables; {} (raw names) when they cannot be had. */
function titlesOf(layerId) {
  if (!propertyTitles.has(layerId)) {
    const titles = fetch(`/collections/${encodeURIComponent(layerId)}/queryables`)
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((schema) =>
        Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, p]) => [k, p.title ?? ""])),
      )
      .catch(() => {
        propertyTitles.delete(layerId); // ask again on the next click
        return {};
      });
    propertyTitles.set(layerId, titles);
  }
  return propertyTitles.get(layerId);
}

function nearest(place) {
  if (!place) return t("nothing");
  return `${place.name} (${t("distance")} ${Math.round(place.distance_m)} m)`;
}

function shown(value) {
  if (typeof value === "number" && !Number.isInteger(value)) return value.toFixed(2);
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** A table of the properties, each named by its title in the current language if it has one. */
function attributes(title, properties, titles = {}) {
  const heading = document.createElement("h3");
  heading.textContent = properties.name ? `${properties.name} · ${title}` : title;
  const table = document.createElement("table");
  for (const [key, value] of Object.entries(properties)) {
    if (value === null || value === undefined || value === "") continue;
    const row = table.insertRow();
    const name = document.createElement("th");
    name.textContent = titlePart(titles[key] ?? "", key);
    row.append(name);
    row.insertCell().textContent = shown(value);
  }
  const content = document.createElement("div");
  content.className = "attributes";
  content.append(heading, table);
  return content;
}
