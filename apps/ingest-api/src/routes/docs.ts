import type { Context } from 'koa';
import { errorStatus } from '@central-logger/errors';
import { htmlHeaders, styleHash } from '@central-logger/http';

// biome-ignore lint/suspicious/noExplicitAny: walks the OpenAPI document, whatever its shape
type Json = Record<string, any>;

// the page's one inline style block, allowed by its hash: the CSP needs no 'unsafe-inline'
const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f5f5f5;padding:.5rem;overflow:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
section{border-top:1px solid #ccc;margin-top:2rem}.method{background:#225;color:#fff;padding:0 .4rem;border-radius:3px;font-size:14px}.scope{color:#555}
`;
const PAGE_HEADERS = htmlHeaders({ styleHashes: [styleHash(STYLE)] });

const esc = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const pre = (v: unknown): string => `<pre>${esc(JSON.stringify(v, null, 2))}</pre>`;
const anchor = (method: string, path: string): string => `${method}${path}`.replace(/[^a-z0-9]+/gi, '-');

/** A schema's type in a few characters: `string`, `integer`, `"a" | "b"`. */
function typeOf(s: Json | undefined): string {
  if (!s) return '';
  if (s.$ref) return String(s.$ref).split('/').pop()!;
  if (s.enum) return s.enum.map((v: unknown) => JSON.stringify(v)).join(' | ');
  if (s.anyOf || s.oneOf) return [...new Set((s.anyOf ?? s.oneOf).map(typeOf))].join(' | ');
  if (s.type === 'array') return `${typeOf(s.items)}[]`;
  return Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? 'any');
}

function table(head: string[], rows: string[][]): string {
  if (rows.length === 0) return '';
  return `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

function operation(path: string, method: string, op: Json): string {
  const params = (op.parameters ?? []) as Json[];
  const bodies = Object.entries((op.requestBody?.content ?? {}) as Record<string, Json>);
  const responses = Object.entries((op.responses ?? {}) as Record<string, Json>);
  return `<section id="${anchor(method, path)}">
<h2><span class="method">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h2>
<p>${esc(op.summary)}</p>
${op['x-required-scope'] ? `<p class="scope">API key needed, with scope <code>${esc(op['x-required-scope'])}</code></p>` : '<p class="scope">No key needed</p>'}
${
  params.length
    ? `<h3>Parameters</h3>${table(
        ['name', 'in', 'required', 'type', 'description'],
        params.map((p) => [`<code>${esc(p.name)}</code>`, esc(p.in), p.required ? 'yes' : 'no', `<code>${esc(typeOf(p.schema))}</code>`, esc(p.description)]),
      )}`
    : ''
}
${bodies.length ? `<h3>Request body</h3>${bodies.map(([type, c]) => `<details><summary><code>${esc(type)}</code> ${esc(typeOf(c.schema))}</summary>${pre(c.schema)}</details>`).join('')}` : ''}
<h3>Responses</h3>${table(
    ['status', 'description', 'body'],
    responses.map(([status, r]) => {
      const schema = r.content && (Object.values(r.content as Record<string, Json>)[0]?.schema as Json | undefined);
      return [
        `<code>${esc(status)}</code>`,
        esc(r.description),
        schema ? `<details><summary><code>${esc(typeOf(schema))}</code></summary>${pre(schema)}</details>` : '',
      ];
    }),
  )}
</section>`;
}

/** The OpenAPI document as one readable page: operations, parameters, bodies, responses, error codes. No scripts, no CDN, no inline style but STYLE. */
export function renderDocs(doc: Json): string {
  const ops = Object.entries(doc.paths as Record<string, Record<string, Json>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  );
  const schemes = Object.entries(doc.components.securitySchemes as Record<string, Json>);
  const errors = Object.entries(errorStatus).map(([code, status]) => [`<code>${status}</code>`, `<code>${esc(code)}</code>`]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.info.title)}</title>
<style>${STYLE}</style></head><body>
<h1>${esc(doc.info.title)}</h1>
<p>${esc(doc.info.description)} The machine-readable document: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}).</p>
<h2>Authentication</h2>
<ul>${schemes.map(([name, s]) => `<li><b>${esc(name)}</b>: ${s.type === 'apiKey' ? `header <code>${esc(s.name)}</code>` : `<code>Authorization: Bearer &lt;key&gt;</code>`} ${esc(s.description)}</li>`).join('')}</ul>
<h2>Operations</h2>
<ul>${ops.map(({ path, method, op }) => `<li><a href="#${anchor(method, path)}"><code>${esc(method.toUpperCase())} ${esc(path)}</code></a> ${esc(op.summary)}</li>`).join('')}</ul>
${ops.map(({ path, method, op }) => operation(path, method, op)).join('\n')}
<section id="errors"><h2>Error codes</h2><p>Every error is JSON <code>{"error", "message", "details"?, "request_id"}</code>.</p>${table(['status', 'error'], errors)}</section>
<section id="schemas"><h2>Schemas</h2>${Object.entries(doc.components.schemas as Record<string, Json>)
    .map(([name, s]) => `<h3 id="schema-${esc(name)}">${esc(name)}</h3>${pre(s)}`)
    .join('')}</section>
</body></html>`;
}

/** `GET /docs` */
export function docsPage(doc: Json) {
  const html = renderDocs(doc);
  return function serveDocs(ctx: Context): void {
    ctx.set(PAGE_HEADERS);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = html;
  };
}
