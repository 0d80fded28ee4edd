// Renders /openapi.json as a list of operations: a small offline stand-in for Swagger UI.
"use strict";

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function table(head, rows) {
  const t = el("table");
  const tr = el("tr");
  head.forEach((h) => tr.append(el("th", h)));
  t.append(tr);
  for (const row of rows) {
    const r = el("tr");
    row.forEach((cell) => r.append(el("td", cell)));
    t.append(r);
  }
  return t;
}

function schemaText(schema) {
  if (!schema) return "";
  if (schema.enum) return schema.enum.join(" | ");
  if (schema.anyOf) return schema.anyOf.map(schemaText).filter(Boolean).join(" | ");
  let text = schema.type || "";
  if (schema.minimum !== undefined) text += " >= " + schema.minimum;
  if (schema.maximum !== undefined) text += " <= " + schema.maximum;
  return text;
}

function operation(path, method, op) {
  const box = el("section", undefined, "op");
  const title = el("h2");
  title.append(el("span", method.toUpperCase(), "method"), path);
  box.append(title, el("p", op.summary || ""));
  if (op.description) box.append(el("p", op.description, "muted"));
  const params = op.parameters || [];
  if (params.length) {
    box.append(table(["parameter", "in", "type", "default", "about"], params.map((p) => [
      p.name, p.in, schemaText(p.schema), p.schema && p.schema.default !== undefined ? String(p.schema.default) : "",
      p.description || (p.schema && p.schema.description) || ""])));
  }
  if (op.requestBody) {
    box.append(el("p", "Body: " + Object.keys(op.requestBody.content).join(", ") + ". " +
      (op.requestBody.description || "")));
  }
  const responses = Object.entries(op.responses || {}).map(([code, r]) =>
    [code, Object.keys(r.content || {}).join(", "), r.description || ""]);
  box.append(table(["status", "content", "meaning"], responses));
  return box;
}

async function render() {
  const root = document.getElementById("ops");
  try {
    const spec = await (await fetch("/openapi.json")).json();
    root.replaceChildren(el("p", spec.info.title + " " + spec.info.version + ": " + (spec.info.description || "")));
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(methods)) root.append(operation(path, method, op));
    }
  } catch (err) {
    root.replaceChildren(el("p", "cannot load /openapi.json: " + err, "error"));
  }
}

render();
