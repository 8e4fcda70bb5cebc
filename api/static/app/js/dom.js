// Building the page without HTML strings: every text from a user or a job goes in through text nodes
// (textContent), never parsed as HTML, so a filename like "<script>" is shown, not run.

/** An element: h("a", {href, class: "x", onclick: fn}, "text", child, [more]) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if ((typeof value === "boolean" || typeof value === "number") && name in el) el[name] = value;
    else if (value === true) el.setAttribute(name, "");
    else if (name === "href" || name === "src") el.setAttribute(name, safeUrl(value));
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Only http(s), same-document and blob URLs: a "javascript:" URL from anywhere never becomes a link. */
export function safeUrl(value) {
  const text = String(value);
  if (text.startsWith("#") || text.startsWith("/")) return text;
  try {
    const url = new URL(text, location.href);
    if (["http:", "https:", "blob:"].includes(url.protocol)) return url.href;
  } catch {
    // fall through
  }
  return "#";
}
