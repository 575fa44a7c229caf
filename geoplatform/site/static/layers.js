// The layer panel: one checkbox per public layer, toggling the style layers "<layer id>.*".
import { layerTitle, onLanguageChange } from "./i18n.js";

export function layerPanel(map, collections, list) {
  function render() {
    list.replaceChildren(...collections.map((collection) => layerItem(map, collection)));
  }
  render();
  onLanguageChange(render);
}

function layerItem(map, collection) {
  const styleLayers = map.getStyle().layers.filter((l) => l.id.startsWith(`${collection.id}.`));
  const checkbox = document.createElement("input");
  checkbox.type = "checkbox";
  checkbox.dataset.layer = collection.id;
  checkbox.disabled = styleLayers.length === 0;
  checkbox.checked = styleLayers.some((l) => map.getLayoutProperty(l.id, "visibility") !== "none");
  checkbox.addEventListener("change", () => {
    const visibility = checkbox.checked ? "visible" : "none";
    styleLayers.forEach((l) => map.setLayoutProperty(l.id, "visibility", visibility));
  });
  const label = document.createElement("label");
  label.append(checkbox, " ", layerTitle(collection));
  const item = document.createElement("li");
  item.append(label);
  return item;
}
