// Renders /openapi.json as a plain list: method, path, summary, parameters, body and answers.
"use strict";

function node(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

function schemaName(s) {
  if (!s) return "";
  if (s.$ref) return s.$ref.split("/").pop();
  if (s.type === "array") return `${schemaName(s.items)}[]`;
  return s.type || (s.anyOf ? s.anyOf.map(schemaName).join(" | ") : "object");
}

async function main() {
  const spec = await (await fetch("/openapi.json")).json();
  const root = document.getElementById("api");
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const card = node("section", "panel");
      card.append(node("h3", "route", `${method.toUpperCase()} ${path}`));
      if (op.summary) card.append(node("p", "", op.summary));
      if (op.description) card.append(node("p", "hint", op.description));
      for (const p of op.parameters || []) card.append(node("p", "hint", `${p.in} ${p.name}: ${schemaName(p.schema)}${p.required ? " (required)" : ""}`));
      const body = op.requestBody && op.requestBody.content;
      if (body) {
        for (const [type, c] of Object.entries(body)) {
          const ref = c.schema && c.schema.$ref && spec.components.schemas[schemaName(c.schema)];
          const fields = ref && ref.properties ? Object.entries(ref.properties).map(([k, v]) => `${k}: ${schemaName(v) || v.format || ""}`).join(", ") : schemaName(c.schema);
          card.append(node("p", "hint", `body ${type}: ${fields}`));
        }
      }
      for (const [code, r] of Object.entries(op.responses || {})) {
        const c = r.content && Object.values(r.content)[0];
        card.append(node("p", "hint", `${code}: ${r.description || ""} ${c ? schemaName(c.schema) : ""}`));
      }
      root.append(card);
    }
  }
  const models = node("section", "panel");
  models.append(node("h2", "", "Schemas"));
  models.append(node("pre", "", JSON.stringify(spec.components.schemas, null, 1)));
  root.append(models);
}

main();
