// Fails the build when ui/dist breaks the window's CSP
// (default-src 'self'; style-src 'self'; script-src 'self'): no inline script or style,
// no style attribute, no code that writes HTML or styles from strings.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const dist = new URL("../dist/", import.meta.url).pathname;
const problems = [];
const html = readFileSync(join(dist, "index.html"), "utf8");
for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
  if (!/\bsrc=/.test(m[1]) || m[2].trim() !== "") problems.push("index.html: inline <script>");
}
if (/<style\b/i.test(html)) problems.push("index.html: inline <style>");
if (/\sstyle=/i.test(html)) problems.push("index.html: style attribute");
if (/(src|href)=["']?(data|blob|https?):/i.test(html)) problems.push("index.html: asset not from 'self'");

for (const file of readdirSync(join(dist, "assets"))) {
  if (!file.endsWith(".js")) continue;
  const js = readFileSync(join(dist, "assets", file), "utf8");
  for (const [what, re] of [
    ["innerHTML/outerHTML", /\.(inner|outer)HTML\s*=/],
    ["insertAdjacentHTML", /insertAdjacentHTML/],
    ["element.style writes", /\.style\.[a-zA-Z]+\s*=|\.style\s*=|setAttribute\(\s*["']style["']/],
    ["eval", /\beval\(|new Function\(/],
  ]) {
    if (re.test(js)) problems.push(`${file}: ${what}`);
  }
}
if (problems.length > 0) {
  console.error("ui/dist breaks the CSP:\n  " + problems.join("\n  "));
  process.exit(1);
}
console.log("ui/dist: no inline script or style (CSP-clean)");
