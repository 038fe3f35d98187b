#!/usr/bin/env node
// solc-js (WASM) behind native solc's command line, so py-solc-x and brownie compile offline.
// Handles what they use: `--standard-json` (input on stdin), `--allow-paths`, `--base-path`.
// `--version` is answered by the generated launcher without starting node (see Makefile).
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

function optionValue(args, name) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : null;
}

const args = process.argv.slice(2);
if (!args.includes("--standard-json")) {
  process.stderr.write("this solc wrapper only supports --standard-json (input on stdin)\n");
  process.exit(1);
}

const basePath = path.resolve(optionValue(args, "--base-path") || ".");
const allowed = [basePath, process.cwd()].concat(
  (optionValue(args, "--allow-paths") || "").split(",").filter(Boolean).map((p) => path.resolve(p))
);

// Like native solc: imports resolve against the base path and must stay inside an allowed path.
function findImports(importPath) {
  const full = path.resolve(basePath, importPath);
  if (!allowed.some((dir) => full === dir || full.startsWith(dir + path.sep))) {
    return { error: `File outside of allowed directories: ${importPath}` };
  }
  try {
    return { contents: fs.readFileSync(full, "utf8") };
  } catch (e) {
    return { error: `File not found: ${importPath}` };
  }
}

const input = fs.readFileSync(0, "utf8");
const output = solc.compile(input, { import: findImports });
// Let node flush the whole of stdout before exiting: pipes cut at 64 KiB on process.exit().
process.stdout.write(output);
