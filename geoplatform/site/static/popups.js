// Popups: a clicked feature's public attributes, and what lies at a right-clicked point.
import { Popup } from "maplibre-gl";
import { t } from "./i18n.js";

/** Click: the top rendered feature of a layer from /collections, then its full attributes. */
export function featurePopups(map, titleOf) {
  map.on("click", async (event) => {
    const feature = map
      .queryRenderedFeatures(event.point)
      .find((f) => titleOf(f.sourceLayer) !== undefined);
    if (!feature) return;
    const popup = new Popup({ maxWidth: "320px" })
      .setLngLat(event.lngLat)
      .setDOMContent(attributes(titleOf(feature.sourceLayer), feature.properties))
      .addTo(map);
    if (feature.id === undefined) return;
    const url = `/collections/${feature.sourceLayer}/items/${encodeURIComponent(feature.id)}`;
    const response = await fetch(url);
    if (response.ok && popup.isOpen()) {
      const full = await response.json();
      popup.setDOMContent(attributes(titleOf(feature.sourceLayer), full.properties));
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
    const rows = {
      [t("admin")]: found.admin_areas.map((a) => a.name).join(" › ") || "—",
      [t("address")]: nearest(found.address),
      [t("road")]: nearest(found.road),
    };
    new Popup({ maxWidth: "320px", className: "reverse" })
      .setLngLat(event.lngLat)
      .setDOMContent(attributes(t("here"), rows))
      .addTo(map);
  });
}

function nearest(place) {
  if (!place) return t("nothing");
  return `${place.name} (${t("distance")} ${Math.round(place.distance_m)} m)`;
}

function shown(value) {
  if (typeof value === "number" && !Number.isInteger(value)) return value.toFixed(2);
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function attributes(title, properties) {
  const heading = document.createElement("h3");
  heading.textContent = properties.name ? `${properties.name} · ${title}` : title;
  const table = document.createElement("table");
  for (const [key, value] of Object.entries(properties)) {
    if (value === null || value === undefined || value === "") continue;
    const row = table.insertRow();
    const name = document.createElement("th");
    name.textContent = key;
    row.append(name);
    row.insertCell().textContent = shown(value);
  }
  const content = document.createElement("div");
  content.className = "attributes";
  content.append(heading, table);
  return content;
}
