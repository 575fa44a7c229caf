// UI text in Chinese and English; the choice is kept in localStorage.
const TEXT = {
  zh: {
    title: "城市地图",
    search: "搜索地名、街道、地址…",
    layers: "图层",
    hint: "点击要素查看属性，右键查询该位置。",
    noResults: "未找到结果",
    here: "此位置",
    admin: "行政区划",
    address: "最近门牌",
    road: "最近道路",
    distance: "距离",
    nothing: "5 公里内无结果",
  },
  en: {
    title: "City map",
    search: "Search places, streets, addresses…",
    layers: "Layers",
    hint: "Click a feature for its attributes, right-click for what is there.",
    noResults: "Nothing found",
    here: "This place",
    admin: "Administrative areas",
    address: "Nearest address",
    road: "Nearest road",
    distance: "distance",
    nothing: "nothing within 5 km",
  },
};

const listeners = [];
let language = localStorage.getItem("language") === "en" ? "en" : "zh";

export function t(key) {
  return TEXT[language][key];
}

export function currentLanguage() {
  return language;
}

/** A layer's title (from /collections) in the current language. */
export function layerTitle(collection) {
  return language === "en" ? collection.title_en || collection.title : collection.title;
}

const HAN = /\p{Script=Han}/u;

/**
 * A declared "中文 English" title in the current language, e.g. "层数来源 Levels source": the
 * Chinese part runs up to the first word without Han characters after one with them, the English
 * part is the rest ("状态 Status (0 在用, 1 废弃)" is "状态" and "Status (0 在用, 1 废弃)").
 * A part that is missing ("OSM 编号" has no English) gives `fallback`.
 */
export function titlePart(title, fallback) {
  const words = title.split(" ");
  const first = words.findIndex((word) => HAN.test(word));
  if (first === -1) return title || fallback;
  const cut = words.findIndex((word, i) => i > first && !HAN.test(word));
  const zh = words.slice(0, cut === -1 ? undefined : cut).join(" ");
  const en = cut === -1 ? "" : words.slice(cut).join(" ");
  return (language === "en" ? en : zh) || fallback;
}

export function onLanguageChange(listener) {
  listeners.push(listener);
}

export function setLanguage(next) {
  language = next;
  localStorage.setItem("language", next);
  document.documentElement.lang = next === "en" ? "en" : "zh-CN";
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of document.querySelectorAll("[data-i18n-placeholder]")) {
    element.placeholder = t(element.dataset.i18nPlaceholder);
  }
  for (const button of document.querySelectorAll("[data-language]")) {
    button.setAttribute("aria-pressed", String(button.dataset.language === next));
  }
  listeners.forEach((listener) => listener(next));
}
