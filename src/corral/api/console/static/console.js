// corral console: the chat's streaming turn, the copy button, the task page's file picker.
// Plain JS, no library. What the model or the user wrote goes into the page as text
// (textContent); the one HTML set here is a finished answer's markdown, rendered and escaped
// by the server (raw HTML off, only http(s)/mailto links), and the CSP runs no inline script.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function addMessage(list, role) {
  const item = document.createElement("li");
  item.className = "msg " + role;
  const label = document.createElement("span");
  label.className = "role";
  label.textContent = role === "user" ? "You" : "Assistant";
  const content = document.createElement("div");
  content.className = "content";
  item.append(label, content);
  list.append(item);
  return content;
}

// Reads the API's SSE frames (`data: {...}\n\n`, then `data: [DONE]`) as they arrive.
async function readFrames(response, onData) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (frame.startsWith("data: ") && frame !== "data: [DONE]") onData(JSON.parse(frame.slice(6)));
    }
  }
}

// The finished answer, as the server renders its markdown; it is kept just after the stream
// ends, so a request made at once may come a moment early.
async function showRendered(url, index, answer) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const response = await fetch(url + "/" + index, {
      headers: { "Accept": "application/json" }, credentials: "same-origin" });
    if (response.ok) {
      const body = await response.json();
      if (body.html !== null) {
        answer.innerHTML = body.html;
        answer.classList.add("md");
      }
      return;
    }
    if (response.status !== 404) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body.error.message;
  } catch (_) {
    return "The request failed (" + response.status + ").";
  }
}

function setupComposer(form) {
  const list = document.getElementById("messages");
  const input = document.getElementById("content");
  const send = document.getElementById("send");
  const stop = document.getElementById("stop");
  const status = document.getElementById("status");
  const model = document.getElementById("model");
  const info = document.getElementById("model-info");
  let controller = null;

  model.addEventListener("change", () => {
    info.textContent = model.selectedOptions[0].dataset.info || "";
  });
  stop.addEventListener("click", () => controller && controller.abort());
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim() || controller) return;
    performance.clearMarks();
    performance.mark("corral-send");
    const index = list.children.length + 1;
    const asked = addMessage(list, "user");
    asked.textContent = text;
    const answer = addMessage(list, "assistant");
    let started = false;
    let outcome = "";
    input.value = "";
    controller = new AbortController();
    send.disabled = true;
    stop.disabled = false;
    status.textContent = "Generating…";
    const temperature = document.getElementById("temperature").value;
    const maxTokens = document.getElementById("max-tokens").value;
    try {
      const response = await fetch(form.dataset.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
          "X-CSRF-Token": csrfToken() },
        body: JSON.stringify({ content: text, model: model.value,
          temperature: temperature === "" ? null : Number(temperature),
          max_tokens: maxTokens === "" ? null : Number(maxTokens) }),
        signal: controller.signal,
        credentials: "same-origin",
      });
      if (!response.ok) {
        asked.parentElement.remove();  // refused: the conversation is as it was
        answer.parentElement.remove();
        throw new Error(await errorText(response));
      }
      started = true;
      let first = true;
      await readFrames(response, (chunk) => {
        if (chunk.error) throw new Error(chunk.error.message);
        for (const choice of chunk.choices || []) {
          const delta = choice.delta && choice.delta.content;
          if (!delta) continue;
          if (first) { performance.mark("corral-first-token"); first = false; }
          answer.textContent += delta;
        }
      });
      outcome = "Done.";
    } catch (error) {
      outcome = error.name === "AbortError" ? "Stopped." : error.message;
    } finally {
      if (started) await showRendered(form.dataset.url, index, answer).catch(() => {});
      status.textContent = outcome;
      controller = null;
      send.disabled = false;
      stop.disabled = true;
    }
  });
}

function setupCopy(button) {
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copy);
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      button.textContent = "Copied";
    } catch (_) {
      button.textContent = "Selected: press Ctrl+C";
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("composer");
  if (form) setupComposer(form);
  document.querySelectorAll("button[data-copy]").forEach(setupCopy);
});
