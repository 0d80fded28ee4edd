// The litesr-edge page: choose or drop an image, POST it to /v1/upscale, compare and download.
// Plain JS, no library and nothing from another host: the page works offline.
"use strict";

const $ = (id) => document.getElementById(id);
let chosen = null;       // the File to upload
let beforeUrl = null;    // object URLs, revoked when replaced
let afterUrl = null;

function show(id, visible) { $(id).hidden = !visible; }

function setError(text) {
  $("error").textContent = text || "";
  show("error", Boolean(text));
}

function fillSelect(select, values, label, preferred) {
  select.replaceChildren();
  for (const value of values) {
    const option = document.createElement("option");
    option.value = String(value);
    option.textContent = label(value);
    select.append(option);
  }
  select.value = String(preferred);
}

async function loadModels() {
  // The scales and engines this server has; the defaults stay if the request fails.
  try {
    const reply = await fetch("/v1/models");
    if (!reply.ok) return;
    const info = await reply.json();
    const scales = [...new Set(info.models.map((m) => m.scale))].sort((a, b) => a - b);
    fillSelect($("scale"), scales, (s) => "\u00d7" + s, info.default.scale);
    const engines = Object.keys(info.engines).filter((name) => info.engines[name]);
    fillSelect($("engine"), engines, (e) => e, info.default.engine);
  } catch (err) {
    setError("cannot reach the server: " + err);
  }
}

function choose(file) {
  if (!file) return;
  chosen = file;
  $("chosen").textContent = file.name + " (" + Math.ceil(file.size / 1024) + " KB)";
  $("go").disabled = false;
  setError("");
}

function replaceUrl(old, blob) {
  if (old) URL.revokeObjectURL(old);
  return URL.createObjectURL(blob);
}

function filenameOf(xhr, fallback) {
  const match = /filename="([^"]+)"/.exec(xhr.getResponseHeader("Content-Disposition") || "");
  return match ? match[1] : fallback;
}

function showResult(xhr, seconds) {
  beforeUrl = replaceUrl(beforeUrl, chosen);
  afterUrl = replaceUrl(afterUrl, xhr.response);
  $("before").src = beforeUrl;
  $("after").src = afterUrl;
  const link = $("download");
  link.href = afterUrl;
  link.download = filenameOf(xhr, "upscaled.png");
  const h = (name) => xhr.getResponseHeader("X-LiteSR-" + name) || "?";
  let text = h("Size") + " from " + h("Model") + " on " + h("Engine") + " " + h("Precision") +
    " in " + h("Time-Ms") + " ms (" + seconds.toFixed(2) + " s with the upload)";
  const fallback = xhr.getResponseHeader("X-LiteSR-Fallback");
  if (fallback) text += "; note: " + fallback;
  $("info").textContent = text;
  setSlider(50);
  show("result", true);
  $("status").textContent = "done";
}

async function showFailure(xhr) {
  let detail = "HTTP " + xhr.status;
  try {
    const body = JSON.parse(await xhr.response.text());
    if (body.detail) detail += ": " + body.detail;
  } catch (err) { /* not JSON: keep the status alone */ }
  if (xhr.status === 503) detail += " (retry in " + (xhr.getResponseHeader("Retry-After") || "a few") + " s)";
  setError(detail);
  $("status").textContent = "failed";
}

function upscale() {
  if (!chosen) return;
  const query = new URLSearchParams({ scale: $("scale").value, engine: $("engine").value, format: $("format").value });
  const form = new FormData();
  form.append("file", chosen, chosen.name);
  const xhr = new XMLHttpRequest();
  const started = performance.now();
  xhr.open("POST", "/v1/upscale?" + query.toString());
  xhr.responseType = "blob";
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) $("upload-progress").value = (100 * e.loaded) / e.total;
    $("status").textContent = "uploading";
  };
  xhr.upload.onload = () => {
    $("upload-progress").value = 100;
    show("spinner", true);
    $("status").textContent = "upscaling";
  };
  xhr.onload = () => {
    show("spinner", false);
    $("go").disabled = false;
    if (xhr.status === 200) showResult(xhr, (performance.now() - started) / 1000);
    else showFailure(xhr);
  };
  xhr.onerror = () => {
    show("spinner", false);
    $("go").disabled = false;
    setError("the connection to the server failed");
  };
  setError("");
  $("go").disabled = true;
  $("upload-progress").value = 0;
  $("status").textContent = "uploading";
  show("progress-box", true);
  xhr.send(form);
}

function setSlider(percent) {
  $("slider").value = String(percent);
  $("before-clip").style.width = percent + "%";
  $("handle").style.left = percent + "%";
}

function wire() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => choose(e.target.files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    choose(e.dataTransfer.files[0]);
  });
  drop.addEventListener("keydown", (e) => {  // the drop zone is focusable: Enter or Space opens the picker
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file").click(); }
  });
  $("go").addEventListener("click", upscale);
  $("slider").addEventListener("input", (e) => setSlider(e.target.value));
  loadModels();
}

wire();
