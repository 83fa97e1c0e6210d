// spoofscan's page: send a clip to POST /v1/predict, then draw the verdict, the spectrogram and the timeline.
"use strict";

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("spoofscan-token") || "";

function authHeaders() {
  return token ? { Authorization: "Bearer " + token } : {};
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function errorText(status, body) {
  const detail = body && body.detail;
  const reason = typeof detail === "string" ? detail : JSON.stringify(detail);
  return `Not scored (HTTP ${status}): ${reason}`;
}

async function loadModel() {
  const response = await fetch("/v1/model", { headers: authHeaders() });
  if (response.status === 401) {
    $("token-box").hidden = false;
    setStatus("This server needs an access token.", true);
    return;
  }
  const model = await response.json();
  $("model-name").textContent = model.name;
  $("model-card").href = $("card-link").href = model.model_card;
}

async function score(blob, name) {
  setStatus(`Scoring ${name} ...`);
  $("result").hidden = true;
  const form = new FormData();
  form.append("file", blob, name);
  let response;
  try {
    response = await fetch("/v1/predict?spectrogram=true", { method: "POST", body: form, headers: authHeaders() });
  } catch (error) {
    setStatus(`The server did not answer: ${error}`, true);
    return;
  }
  const body = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) {
    if (response.status === 401) $("token-box").hidden = false;
    setStatus(errorText(response.status, body), true);
    return;
  }
  setStatus("");
  show(body[0]);
}

function show(result) {
  $("result").hidden = false;
  const verdict = $("verdict");
  verdict.textContent = result.verdict === "fake" ? "Likely synthetic (fake)" : "Likely real";
  verdict.className = result.verdict;
  const rows = [
    ["clip", result.path],
    ["P(fake)", result.score.toFixed(3)],
    ["threshold", `${result.threshold.toFixed(3)} (fake when P(fake) is at or above it)`],
    ["duration", `${result.duration.toFixed(2)} s, ${result.window_scores.length} windows scored`],
  ];
  if (result.llr !== null) rows.push(["log-likelihood ratio", `${result.llr.toFixed(2)} at prior P(fake) = ${result.prior}`]);
  $("numbers").replaceChildren(...rows.flatMap(([key, value]) => {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = key;
    dd.textContent = value;
    return [dt, dd];
  }));
  const worst = mostSuspicious(result);
  drawSpectrogram(result.spectrogram, worst, result.duration);
  drawTimeline(result, worst);
  $("caption").textContent = result.window_scores.length
    ? `Top: the clip's spectrogram (mel scale, up to ${result.spectrogram ? Math.round(result.spectrogram.max_hz) : "?"} Hz). ` +
      `Bottom: P(fake) of each window; dashed line = threshold; red = the most suspicious window ` +
      `(${worst.start.toFixed(2)}-${worst.end.toFixed(2)} s, P(fake) ${worst.score.toFixed(3)}).`
    : "This detector (a fusion of several models) gives one score per clip, so there is no timeline.";
}

function mostSuspicious(result) {
  const scores = result.window_scores;
  if (!scores.length) return null;
  const i = scores.indexOf(Math.max(...scores));
  return { start: result.window_times[i][0], end: result.window_times[i][1], score: scores[i] };
}

// viridis, sampled at five points and interpolated
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colour(value) {
  const x = (value / 255) * (STOPS.length - 1);
  const i = Math.min(Math.floor(x), STOPS.length - 2);
  const f = x - i;
  return STOPS[i].map((c, k) => Math.round(c + f * (STOPS[i + 1][k] - c)));
}

function drawSpectrogram(spec, worst, duration) {
  const canvas = $("spectrogram");
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!spec) {
    ctx.fillStyle = "#fff";
    ctx.fillText("no spectrogram for a clip this long", 10, 20);
    return;
  }
  const pixels = Uint8Array.from(atob(spec.pixels), (c) => c.charCodeAt(0));
  const image = new ImageData(spec.columns, spec.rows);
  for (let row = 0; row < spec.rows; row++) {
    for (let col = 0; col < spec.columns; col++) {
      const [r, g, b] = colour(pixels[row * spec.columns + col]);
      const at = ((spec.rows - 1 - row) * spec.columns + col) * 4; // low frequencies at the bottom
      image.data.set([r, g, b, 255], at);
    }
  }
  const picture = document.createElement("canvas");
  picture.width = spec.columns;
  picture.height = spec.rows;
  picture.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  const width = canvas.width * Math.min(1, spec.seconds / duration);
  ctx.drawImage(picture, 0, 0, width, canvas.height);
  if (worst) markRegion(ctx, canvas, worst, duration, "rgba(255, 60, 60, 0.9)", false);
}

function markRegion(ctx, canvas, worst, duration, style, fill) {
  const x0 = (worst.start / duration) * canvas.width;
  const x1 = (worst.end / duration) * canvas.width;
  if (fill) {
    ctx.fillStyle = style;
    ctx.fillRect(x0, 0, x1 - x0, canvas.height);
  } else {
    ctx.strokeStyle = style;
    ctx.lineWidth = 3;
    ctx.strokeRect(x0 + 1.5, 1.5, x1 - x0 - 3, canvas.height - 3);
  }
}

function drawTimeline(result, worst) {
  const canvas = $("timeline");
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const top = 8, bottom = height - 22;
  const y = (p) => bottom - p * (bottom - top);
  const x = (t) => (t / result.duration) * width;
  ctx.clearRect(0, 0, width, height);
  canvas.dataset.windows = String(result.window_scores.length);
  if (!result.window_scores.length) {
    canvas.dataset.drawn = "none";
    return;
  }
  if (worst) markRegion(ctx, canvas, worst, result.duration, "rgba(198, 40, 40, 0.18)", true);
  ctx.fillStyle = "#5f6368";
  ctx.font = "12px system-ui, sans-serif";
  for (const p of [0, 0.5, 1]) ctx.fillText(p.toFixed(1), 2, y(p) + 4);
  const step = Math.max(1, Math.ceil(result.duration / 10));
  for (let t = step; t < result.duration; t += step) ctx.fillText(`${t} s`, x(t) - 8, height - 6);
  ctx.setLineDash([6, 4]);
  ctx.strokeStyle = "#5f6368";
  ctx.beginPath();
  ctx.moveTo(0, y(result.threshold));
  ctx.lineTo(width, y(result.threshold));
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.strokeStyle = "#1a73e8";
  ctx.lineWidth = 2;
  ctx.beginPath();
  result.window_scores.forEach((p, i) => {
    const [start, end] = result.window_times[i];
    const px = x((start + end) / 2);
    i === 0 ? ctx.moveTo(px, y(p)) : ctx.lineTo(px, y(p));
  });
  ctx.stroke();
  result.window_scores.forEach((p, i) => {
    const [start, end] = result.window_times[i];
    ctx.fillStyle = p >= result.threshold ? "#c62828" : "#2e7d32";
    ctx.beginPath();
    ctx.arc(x((start + end) / 2), y(p), 3, 0, 2 * Math.PI);
    ctx.fill();
  });
  canvas.dataset.drawn = "true";
}

function setUpRecording() {
  if (!(navigator.mediaDevices && window.MediaRecorder)) return; // needs a secure context (https or localhost)
  const button = $("record");
  button.hidden = false;
  let recorder = null;
  button.addEventListener("click", async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      setStatus(`No microphone: ${error.message}`, true);
      return;
    }
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (event) => chunks.push(event.data);
    recorder.onstop = () => {
      stream.getTracks().forEach((track) => track.stop());
      const type = recorder.mimeType || "audio/webm";
      recorder = null;
      button.textContent = "Record from the microphone";
      button.classList.remove("on");
      score(new Blob(chunks, { type }), type.includes("ogg") ? "recording.ogg" : "recording.webm");
    };
    recorder.start();
    button.textContent = "Stop and score";
    button.classList.add("on");
    setStatus("Recording ... press the button again to stop.");
  });
}

function setUp() {
  const drop = $("drop");
  $("file-input").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) score(file, file.name);
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) score(file, file.name);
  });
  $("token-box").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("token").value.trim();
    sessionStorage.setItem("spoofscan-token", token);
    $("token-box").hidden = true;
    setStatus("");
    loadModel();
  });
  setUpRecording();
  loadModel();
}

setUp();
