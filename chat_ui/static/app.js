// The chat page: sign in, ask, and render the streamed answer (text, tool calls, tables, chart, refusals).
// Everything from the server is inserted with textContent, never as HTML: names and notes come from the
// database and must never become markup.
"use strict";

(function () {
  const TOKEN_KEY = "sis-chat-token";
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem(TOKEN_KEY);
  let busy = false;

  function node(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined && text !== null) el.textContent = String(text);
    return el;
  }

  async function api(path, options) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    const response = await fetch(path, { ...options, headers: { ...headers, ...(options && options.headers) } });
    if (!response.ok) {
      let message = response.statusText;
      try {
        const body = await response.json();
        message = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
      } catch (_) { /* keep the status text */ }
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return response.status === 204 ? null : response.json();
  }

  // -- sign in -------------------------------------------------------------------------------

  function showSignInError(message) {
    const el = $("sign-in-error");
    el.textContent = message;
    el.hidden = !message;
  }

  async function signIn(body) {
    showSignInError("");
    try {
      const session = await api("/chat/api/session", { method: "POST", body: JSON.stringify(body) });
      token = session.token;
      sessionStorage.setItem(TOKEN_KEY, token);
      $("api-key").value = "";
      showChat(session);
    } catch (err) {
      showSignInError("Sign-in failed: " + err.message);
    }
  }

  function showSignIn() {
    $("sign-in").hidden = false;
    $("chat").hidden = true;
    $("sign-out").hidden = true;
    $("assistant-mode").hidden = true;
  }

  function setMode(label, mode) {
    const badge = $("assistant-mode");
    badge.textContent = label;
    badge.dataset.mode = mode;
    badge.hidden = false;
  }

  function showChat(session) {
    $("sign-in").hidden = true;
    $("chat").hidden = false;
    $("sign-out").hidden = false;
    const assistant = session.assistant || {};
    setMode(assistant.mode === "anthropic" ? "Claude · " + assistant.model : "Offline assistant", assistant.mode);
    const banner = $("banner");
    banner.replaceChildren();
    const who = node("p", "who");
    who.appendChild(node("strong", null, session.banner.name));
    who.appendChild(document.createTextNode(" · " + session.banner.roles.join(", ")));
    banner.appendChild(who);
    for (const line of session.banner.lines) banner.appendChild(node("p", null, line));
    const suggestions = $("suggestions");
    suggestions.replaceChildren(node("span", "label", "Try:"));
    for (const q of session.questions) {
      const button = node("button", "chip", q.text);
      button.type = "button";
      button.title = q.title;
      button.addEventListener("click", () => ask(q.text));
      suggestions.appendChild(button);
    }
    $("question").focus();
  }

  async function init() {
    const config = await api("/chat/api/config");
    $("key-form").hidden = !config.api_key_sign_in;
    if (config.demo_mode && config.personas.length) {
      $("personas").hidden = false;
      const list = $("persona-list");
      list.replaceChildren();
      for (const p of config.personas) {
        const item = node("li");
        const button = node("button", "persona");
        button.type = "button";
        button.dataset.persona = p.key;
        button.appendChild(node("span", "persona-name", p.name));
        button.appendChild(node("span", "persona-role", p.role.replace("_", " ")));
        button.appendChild(node("span", "persona-desc", p.description));
        button.addEventListener("click", () => signIn({ persona: p.key }));
        item.appendChild(button);
        list.appendChild(item);
      }
    }
    if (token) {
      try {
        showChat(await api("/chat/api/session"));
        return;
      } catch (_) {
        token = null;
        sessionStorage.removeItem(TOKEN_KEY);
      }
    }
    showSignIn();
  }

  // -- rendering answers -----------------------------------------------------------------------

  // A tiny, safe subset of Markdown for the model's prose: paragraphs, bullet and numbered lists,
  // **bold** and `code`. Built from text nodes only.
  function inline(parent, text) {
    const parts = text.split(/(\*\*[^*]+\*\*|`[^`]+`)/g);
    for (const part of parts) {
      if (/^\*\*[^*]+\*\*$/.test(part)) parent.appendChild(node("strong", null, part.slice(2, -2)));
      else if (/^`[^`]+`$/.test(part)) parent.appendChild(node("code", null, part.slice(1, -1)));
      else if (part) parent.appendChild(document.createTextNode(part));
    }
  }

  function renderProse(container, text) {
    container.replaceChildren();
    let list = null;
    for (const raw of text.split("\n")) {
      const line = raw.trimEnd();
      const bullet = line.match(/^\s*[-*•]\s+(.*)$/);
      const numbered = line.match(/^\s*\d+[.)]\s+(.*)$/);
      if (bullet || numbered) {
        const kind = bullet ? "UL" : "OL";
        if (!list || list.tagName !== kind) {
          list = node(kind.toLowerCase());
          container.appendChild(list);
        }
        const item = node("li");
        inline(item, (bullet || numbered)[1]);
        list.appendChild(item);
        continue;
      }
      list = null;
      if (!line.trim()) continue;
      const heading = line.match(/^#{1,6}\s+(.*)$/);
      const p = node("p", heading ? "heading" : null);
      inline(p, heading ? heading[1] : line);
      container.appendChild(p);
    }
  }

  function renderTable(view) {
    const figure = node("figure", "table-view");
    const header = node("figcaption");
    header.appendChild(node("span", "title", view.title));
    const count = view.total > view.rows.length
      ? `${view.rows.length} of ${view.total} rows shown`
      : `${view.rows.length} row${view.rows.length === 1 ? "" : "s"}`;
    header.appendChild(node("span", "count", count));
    figure.appendChild(header);
    if (!view.rows.length) {
      figure.appendChild(node("p", "empty", "No rows."));
      return figure;
    }
    const scroller = node("div", "table-scroll");
    scroller.tabIndex = 0;
    scroller.setAttribute("role", "region");
    scroller.setAttribute("aria-label", view.title);
    const table = node("table");
    const thead = node("thead");
    const headRow = node("tr");
    view.columns.forEach((column, i) => {
      const th = node("th", view.numeric[i] ? "num" : null, column);
      th.scope = "col";
      headRow.appendChild(th);
    });
    thead.appendChild(headRow);
    table.appendChild(thead);
    const tbody = node("tbody");
    for (const row of view.rows) {
      const tr = node("tr");
      row.forEach((cell, i) => tr.appendChild(node("td", view.numeric[i] ? "num" : null, cell === null ? "" : cell)));
      tbody.appendChild(tr);
    }
    table.appendChild(tbody);
    scroller.appendChild(table);
    figure.appendChild(scroller);
    if (view.export) figure.appendChild(exportLinks(view));
    return figure;
  }

  // "Download CSV" / "Download Excel" under a table the server kept for this chat (docs/chat-exports.md).
  // The file is fetched with the session token in the Authorization header (never in a URL) and saved
  // under the server's name; the server records each download in the query log.
  function exportLinks(view) {
    const bar = node("p", "exports");
    for (const [ext, label] of [["csv", "CSV"], ["xlsx", "Excel"]]) {
      const link = node("a", "export", "Download " + label);
      link.href = view.export[ext];
      link.setAttribute("aria-label", `Download ${view.title} as ${label}`);
      link.addEventListener("click", async (event) => {
        event.preventDefault();
        try {
          const response = await fetch(view.export[ext], { headers: { Authorization: "Bearer " + token } });
          if (!response.ok) {
            const body = await response.json().catch(() => ({}));
            throw new Error(typeof body.detail === "string" ? body.detail : response.statusText);
          }
          const save = node("a");
          save.href = URL.createObjectURL(await response.blob());
          save.download = `${view.export.filename}.${ext}`;
          document.body.appendChild(save);
          save.click();
          setTimeout(() => { URL.revokeObjectURL(save.href); save.remove(); }, 0);
        } catch (err) {
          bar.querySelector(".export-error")?.remove();
          bar.appendChild(node("span", "export-error", "Download failed: " + err.message));
        }
      });
      bar.appendChild(link);
    }
    return bar;
  }

  function renderRecord(view) {
    const section = node("section", "record-view");
    section.appendChild(node("h4", null, view.title));
    const dl = node("dl");
    for (const [label, value] of view.fields) {
      dl.appendChild(node("dt", null, label));
      dl.appendChild(node("dd", null, value === null ? "" : value));
    }
    section.appendChild(dl);
    return section;
  }

  function renderView(view) {
    if (view.kind === "table") return renderTable(view);
    if (view.kind === "chart") return window.SisChart.line(view);
    if (view.kind === "record") return renderRecord(view);
    return node("pre", null, JSON.stringify(view, null, 2));
  }

  function renderProposal(data) {
    const form = node("form", "proposal");
    form.dataset.proposalId = data.proposal_id;
    form.dataset.tool = data.tool;
    form.setAttribute("aria-label", "Proposed change: " + data.title);
    form.appendChild(node("h4", null, "Proposed change: " + data.title));
    form.appendChild(node("p", "note", "Nothing has been written. Check every value, then confirm or cancel."));
    const dl = node("dl");
    for (const field of data.fields) {
      const dt = node("dt", null, field.label);
      dt.title = field.description || "";
      dl.appendChild(dt);
      const value = typeof field.value === "object" && field.value !== null ? JSON.stringify(field.value) : field.value;
      const dd = node("dd", null, value === null || value === undefined ? "" : value);
      dd.dataset.field = field.name;
      if (!field.given) dd.appendChild(node("span", "default", " (default)"));
      dl.appendChild(dd);
    }
    form.appendChild(dl);
    const minutes = Math.max(1, Math.round((data.expires_in_seconds || 0) / 60));
    form.appendChild(node("p", "note", `This proposal expires in ${minutes} minute${minutes === 1 ? "" : "s"}.`));
    const actions = node("div", "actions");
    const confirm = node("button", "primary", "Confirm");
    confirm.type = "submit";
    const cancel = node("button", "secondary", "Cancel");
    cancel.type = "button";
    actions.append(confirm, cancel);
    form.appendChild(actions);
    const outcome = node("div", "outcome");
    outcome.setAttribute("role", "status");
    form.appendChild(outcome);

    async function settle(action) {
      confirm.disabled = true;
      cancel.disabled = true;
      outcome.replaceChildren(node("p", null, action === "confirm" ? "Writing…" : "Cancelling…"));
      try {
        const body = await api(`/chat/api/proposals/${encodeURIComponent(data.proposal_id)}/${action}`, { method: "POST" });
        form.dataset.outcome = body.status;
        const message = body.status === "confirmed"
          ? `Done: written by you (audit #${body.audit_seq}).`
          : `Cancelled: nothing was written (audit #${body.audit_seq}).`;
        outcome.replaceChildren(node("p", body.status, message));
        for (const view of body.views || []) outcome.appendChild(renderView(view));
      } catch (err) {
        form.dataset.outcome = "failed";
        outcome.replaceChildren(node("p", "alert error", "Not written: " + err.message));
      }
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      settle("confirm");
    });
    cancel.addEventListener("click", () => settle("cancel"));
    return form;
  }

  // -- one answer --------------------------------------------------------------------------------

  class Answer {
    constructor(log) {
      this.el = node("article", "message assistant");
      this.el.setAttribute("aria-busy", "true");
      this.meta = node("p", "meta", "Thinking…");
      this.el.appendChild(this.meta);
      this.prose = null;
      this.text = "";
      this.calls = new Map();
      log.appendChild(this.el);
    }

    add(child) {
      this.prose = null;
      this.el.appendChild(child);
      child.scrollIntoView({ block: "nearest" });
      return child;
    }

    handle(kind, data) {
      const handler = this["on_" + kind];
      if (handler) handler.call(this, data);
    }

    on_mode(data) {
      this.meta.textContent = "Answered by the " + (data.mode === "anthropic" ? data.label : "offline assistant");
      setMode(data.mode === "anthropic" ? data.label : "Offline assistant", data.mode);
    }

    on_understood(data) {
      const p = node("p", "understood");
      p.appendChild(node("span", "label", "Understood: "));
      p.appendChild(document.createTextNode(data.items.join(" · ")));
      this.add(p);
    }

    on_text(data) {
      if (!this.prose) {
        this.prose = node("div", "prose");
        this.text = "";
        this.el.appendChild(this.prose);
      }
      this.text += data.delta;
      renderProse(this.prose, this.text);
    }

    on_tool_call(data) {
      const details = node("details", "tool-call");
      details.dataset.tool = data.name;
      const summary = node("summary");
      summary.appendChild(node("span", "tool-name", data.name));
      const status = node("span", "tool-status", "running…");
      summary.appendChild(status);
      details.appendChild(summary);
      details.appendChild(node("pre", "arguments", JSON.stringify(data.arguments, null, 2)));
      const box = node("div", "tool");
      box.appendChild(details);
      this.add(box);
      this.calls.set(data.call_id, { box, details, status });
    }

    on_tool_result(data) {
      const call = this.calls.get(data.call_id);
      if (!call) return;
      const rows = data.rows === null || data.rows === undefined ? "" : ` · ${data.rows} row${data.rows === 1 ? "" : "s"}`;
      call.status.textContent = `audit #${data.audit_seq}${rows}`;
      call.details.dataset.auditSeq = data.audit_seq;
      for (const view of data.views) call.box.appendChild(renderView(view));
      this.prose = null;
    }

    on_tool_error(data) {
      const call = this.calls.get(data.call_id);
      if (!call) return;
      call.box.classList.add(data.refused ? "refused" : "failed");
      call.status.textContent = (data.refused ? "refused" : "failed") + (data.audit_seq ? ` · audit #${data.audit_seq}` : "");
      call.details.dataset.auditSeq = data.audit_seq || "";
      call.details.appendChild(node("p", "tool-error", `${data.code}: ${data.message}`));
    }

    on_refusal(data) {
      const box = node("div", "alert refusal");
      box.setAttribute("role", "alert");
      box.appendChild(node("strong", null, "Not available: "));
      box.appendChild(document.createTextNode(data.message));
      this.add(box);
    }

    on_clarify(data) {
      const box = node("div", "alert clarify");
      box.appendChild(node("p", null, data.message));
      if (data.understood && data.understood.length) {
        box.appendChild(node("p", "understood", "I understood: " + data.understood.join(" · ")));
      }
      const list = node("div", "suggestions");
      for (const text of data.suggestions) {
        const button = node("button", "chip", text);
        button.type = "button";
        button.addEventListener("click", () => ask(text));
        list.appendChild(button);
      }
      box.appendChild(list);
      this.add(box);
    }

    // A write the assistant proposed: exactly what would run, shown as data, with Confirm and Cancel.
    // Nothing is written until the person presses Confirm (chat_ui/proposals.py).
    on_proposal(data) {
      this.add(renderProposal(data));
    }

    on_notice(data) {
      const box = node("div", "alert notice " + (data.level || "info"), data.message);
      this.add(box);
    }

    on_error(data) {
      const box = node("div", "alert error", data.message);
      box.setAttribute("role", "alert");
      this.add(box);
    }

    on_done() {
      this.el.setAttribute("aria-busy", "false");
      this.el.classList.add("done");
      if (this.meta.textContent === "Thinking…") this.meta.textContent = "";
    }
  }

  function parseEvent(block) {
    let kind = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) kind = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
    return data.length ? { kind, data: JSON.parse(data.join("\n")) } : null;
  }

  async function ask(question) {
    question = (question || "").trim();
    if (!question || busy) return;
    busy = true;
    $("ask-button").disabled = true;
    const log = $("log");
    const mine = node("article", "message user");
    mine.appendChild(node("p", null, question));
    log.appendChild(mine);
    const answer = new Answer(log);
    $("question").value = "";
    try {
      const response = await fetch("/chat/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + token, Accept: "text/event-stream" },
        body: JSON.stringify({ question }),
      });
      if (response.status === 401) {
        answer.handle("error", { message: "Your session has ended; please sign in again." });
        token = null;
        sessionStorage.removeItem(TOKEN_KEY);
        showSignIn();
        return;
      }
      if (!response.ok || !response.body) throw new Error(`the server answered ${response.status}`);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const event = parseEvent(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
          if (event) answer.handle(event.kind, event.data);
        }
      }
    } catch (err) {
      answer.handle("error", { message: "The answer could not be loaded: " + err.message });
    } finally {
      answer.handle("done", {});
      busy = false;
      $("ask-button").disabled = false;
      $("question").focus();
    }
  }

  // -- wiring ----------------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      signIn({ api_key: $("api-key").value });
    });
    $("ask-form").addEventListener("submit", (event) => {
      event.preventDefault();
      ask($("question").value);
    });
    $("question").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        ask($("question").value);
      }
    });
    $("sign-out").addEventListener("click", async () => {
      try { await api("/chat/api/session", { method: "DELETE" }); } catch (_) { /* already signed out */ }
      token = null;
      sessionStorage.removeItem(TOKEN_KEY);
      $("log").replaceChildren();
      showSignIn();
    });
    init().catch((err) => showSignInError("The chat could not start: " + err.message));
  });
})();
