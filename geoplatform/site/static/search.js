// The search box: /search as the user types (debounced); choosing a result flies there.
import { t } from "./i18n.js";

const DEBOUNCE_MS = 250;

export function searchBox(map, form, input, list, titleOf) {
  let timer;
  let asked = 0;

  async function search() {
    const q = input.value.trim();
    const ask = ++asked;
    if (!q) {
      list.replaceChildren();
      return;
    }
    const { lng, lat } = map.getCenter();
    const params = new URLSearchParams({ q, limit: "8", near: `${lng},${lat}` });
    const response = await fetch(`/search?${params}`);
    const found = response.ok ? await response.json() : { features: [] };
    if (ask === asked) show(found.features);
  }

  function show(features) {
    if (!features.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = t("noResults");
      list.replaceChildren(empty);
      return;
    }
    list.replaceChildren(...features.map(resultItem));
  }

  function resultItem(feature) {
    const button = document.createElement("button");
    button.type = "button";
    const kind = document.createElement("small");
    kind.textContent = titleOf(feature.properties.layer) || feature.properties.layer_title;
    button.append(feature.properties.label, " ", kind);
    button.addEventListener("click", () => {
      map.flyTo({ center: feature.geometry.coordinates, zoom: 16, essential: true });
    });
    const item = document.createElement("li");
    item.append(button);
    return item;
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, DEBOUNCE_MS);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    search();
  });
}
