// The upload page's queue: files and whole folders (chosen or dropped) sent through the
// resumable upload API (tus 1.0.0, /api/v1/uploads/) in 8 MiB pieces, two files at a time.
// A piece lost to the network is retried with growing pauses; an upload interrupted by a
// reload continues where the server says it stands (HEAD) once the same file is chosen
// again: its address is kept in localStorage under name + size + date + folder path.
// Without this script (or without the browser features it needs) the page stays the plain
// one-file form. Texts come from the page (#upload-texts), already in the visitor's language;
// so do the words for the API's refusals (#error-texts, from web/error_texts.py: a text per
// `reason` with {name} placeholders, filled from the error's values as the server does).
(function () {
  "use strict";
  var root = document.getElementById("resumable");
  if (!root || !window.Promise || !window.JSON || !window.localStorage || !window.Blob ||
      !Blob.prototype.slice || !("upload" in new XMLHttpRequest())) return;
  var form = document.getElementById("upload-form");
  var T = JSON.parse(document.getElementById("upload-texts").textContent);
  var E = JSON.parse(document.getElementById("error-texts").textContent);
  var ENDPOINT = root.getAttribute("data-endpoint"), CSRF = root.getAttribute("data-csrf");
  var CHUNK = 8 * 1024 * 1024, PARALLEL = 2, MAX_TRIES = 8, KEEP_MS = 48 * 3600 * 1000;
  var STORE = "repo-upload:";
  var JUNK = /^(\.|~\$)|^(thumbs\.db|ehthumbs\.db|desktop\.ini|__macosx)$/i;
  var queue = document.getElementById("queue"), summary = document.getElementById("queue-summary");
  var items = [], active = 0;

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }
  function text(s, values) {
    return String(s).replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }
  function el(tag, cls, content) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (content != null) node.textContent = content;
    return node;
  }
  function size(n) {
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + units[i];
  }
  // One refusal of the API ({error, message, field, reason, …}) in the visitor's language.
  function shown(name, value) {
    if (Array.isArray(value)) return value.map(function (v) { return shown(name, v); }).join(E.separator);
    if (E.sizes.indexOf(name) >= 0 && typeof value === "number") return size(value);
    var labels = E.labels[name] || {};
    return Object.prototype.hasOwnProperty.call(labels, value) ? labels[value] : value;
  }
  function explain(e) {
    var values = {};
    Object.keys(e).forEach(function (k) { if (e[k] != null) values[k] = shown(k, e[k]); });
    var said = E.texts.hasOwnProperty(e.reason) ? E.texts[e.reason].replace(/\{(\w+)\}/g, function (m, k) {
      return k in values ? values[k] : "";   // as on the server: a value the error lacks reads as empty
    }) : e.message;
    return e.field ? text(E.line, {label: values.field, text: said}) : said;
  }
  function b64(s) { return btoa(unescape(encodeURIComponent(s))); }
  function wait(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  // -- the page without the plain form's file input ----------------------------------------
  root.hidden = false;
  document.getElementById("queue-area").hidden = false;
  each(form.querySelectorAll(".plain-only"), function (node) { node.hidden = true; });
  var plain = form.querySelector("input[name=file]");
  plain.required = false;
  plain.disabled = true;
  form.addEventListener("submit", function (event) { event.preventDefault(); start(); });

  // -- remembered uploads (resume after a reload) ---------------------------------------------
  function remembered(key) {
    try {
      var value = JSON.parse(localStorage.getItem(key) || "null");
      return value && Date.now() - value.at < KEEP_MS ? value.url : null;
    } catch (e) { return null; }
  }
  function remember(item) {
    try { localStorage.setItem(item.key, JSON.stringify({url: item.url, at: Date.now()})); } catch (e) { /* full */ }
  }
  function forget(item) { localStorage.removeItem(item.key); }
  (function showUnfinished() {
    var count = 0;
    for (var i = localStorage.length - 1; i >= 0; i--) {
      var key = localStorage.key(i);
      if (key && key.indexOf(STORE) === 0) {
        if (remembered(key)) count++; else localStorage.removeItem(key);
      }
    }
    if (count) {
      var notice = document.getElementById("unfinished");
      notice.textContent = text(T.unfinished, {n: count});
      notice.hidden = false;
    }
  })();

  // -- the queue -----------------------------------------------------------------------------
  function add(file, path) {
    var parts = (path || file.name).split("/");
    if (parts.some(function (p) { return JUNK.test(p); })) return;
    path = parts.length > 1 ? parts.join("/") : "";
    var key = STORE + [file.name, file.size, file.lastModified, path].join("|");
    if (items.some(function (it) { return it.key === key && it.state !== "cancelled"; })) return;
    var item = {file: file, path: path, key: key, state: "waiting", url: null, xhr: null, tries: 0};
    item.row = el("tr");
    item.row.appendChild(el("td", "name", path || file.name));
    item.row.appendChild(el("td", "size", size(file.size)));
    var cell = el("td", "progress");
    item.bar = el("progress");
    item.bar.max = 1000;
    item.bar.value = 0;
    item.percent = el("span", "percent", "0%");
    cell.appendChild(item.bar);
    cell.appendChild(item.percent);
    item.row.appendChild(cell);
    var status = el("td", "status");
    item.status = el("span", "state");
    item.message = el("div", "error");
    status.appendChild(item.status);
    status.appendChild(item.message);
    item.row.appendChild(status);
    item.actions = el("td", "actions");
    item.row.appendChild(item.actions);
    queue.appendChild(item.row);
    items.push(item);
    setState(item, "waiting");
  }

  function button(item, label, action) {
    var b = el("button", "link", label);
    b.type = "button";
    b.addEventListener("click", action);
    item.actions.appendChild(b);
  }

  function setState(item, state, message) {
    item.state = state;
    item.row.className = "state-" + state;
    item.status.textContent = T[state] || state;
    item.message.textContent = message || "";
    item.actions.textContent = "";
    if (state === "waiting") button(item, T.remove, function () { remove(item); });
    if (state === "queued" || state === "uploading" || state === "retrying") {
      button(item, T.cancel, function () { cancel(item); });
    }
    if (state === "paused") {
      item.status.textContent = T.failed;
      button(item, T.resume, function () { item.tries = 0; setState(item, "queued"); pump(); });
      button(item, T.cancel, function () { cancel(item); });
    }
    if (state === "failed" && item.canRetry) button(item, T.retry, function () { refile(item); });
    if (state === "done" && item.link) {
      var a = el("a", null, T.view);
      a.href = item.link;
      item.actions.appendChild(a);
    }
    count();
  }

  function count() {
    var done = items.filter(function (it) { return it.state === "done"; }).length;
    summary.textContent = items.length ? text(T.summary, {done: done, total: items.length}) : "";
  }

  function progress(item, offset) {
    var share = item.file.size ? offset / item.file.size : 1;
    item.bar.value = Math.round(share * 1000);
    item.percent.textContent = Math.floor(share * 100) + "%";
  }

  function remove(item) {
    items.splice(items.indexOf(item), 1);
    queue.removeChild(item.row);
    count();
  }

  // The batch's shared fields, as the plain form would send them (empty ones left out).
  function fields(forOne) {
    var meta = {};
    each(form.elements, function (input) {
      if (!input.name || input.disabled || input.name === "csrf_token" || input.name === "file") return;
      if (input.type === "checkbox") { if (input.checked) meta[input.name] = input.value; return; }
      var value = (input.value || "").trim();
      if (value) meta[input.name] = value;
    });
    if (!forOne) delete meta.title;   // several files: each is titled by its own name
    return meta;
  }

  function start() {
    var waiting = items.filter(function (it) { return it.state === "waiting"; });
    var meta = fields(waiting.length === 1 && !waiting[0].path);
    waiting.forEach(function (it) { it.meta = meta; setState(it, "queued"); });
    pump();
  }

  function pump() {
    while (active < PARALLEL) {
      var next = items.filter(function (it) { return it.state === "queued"; })[0];
      if (!next) return;
      active++;
      setState(next, "uploading");
      attempt(next).then(function () { active--; pump(); });
    }
  }

  // -- talking tus -------------------------------------------------------------------------------
  function request(item, method, url, headers, body, onProgress) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      item.xhr = xhr;
      xhr.open(method, url);
      xhr.setRequestHeader("Tus-Resumable", "1.0.0");
      xhr.setRequestHeader("X-CSRFToken", CSRF);
      Object.keys(headers || {}).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
      xhr.onload = xhr.onerror = xhr.onabort = xhr.ontimeout = function () { resolve(xhr); };
      if (onProgress) xhr.upload.onprogress = function (e) { onProgress(e.loaded); };
      xhr.send(body == null ? null : body);
    });
  }

  function problem(xhr) {
    var body = {};
    try { body = JSON.parse(xhr.responseText || "{}"); } catch (e) { /* not JSON */ }
    var messages = (body.errors || (body.message ? [body] : [])).map(explain);
    var error = new Error(messages.join("; ") || xhr.statusText || "HTTP " + xhr.status);
    var s = xhr.status;
    error.retry = s === 0 || s === 409 || s === 423 || (s >= 500 && s !== 507) || s === 404;
    error.gone = s === 404;
    return error;
  }

  function create(item) {
    var meta = {};
    Object.keys(item.meta).forEach(function (k) { meta[k] = item.meta[k]; });
    if (item.path) meta.relative_path = item.path; else meta.filename = item.file.name;
    var encoded = Object.keys(meta).map(function (k) { return k + " " + b64(meta[k]); }).join(",");
    return request(item, "POST", ENDPOINT, {"Upload-Length": String(item.file.size),
                                            "Upload-Metadata": encoded}).then(function (xhr) {
      if (xhr.status !== 201) throw problem(xhr);
      item.url = xhr.getResponseHeader("Location");
      remember(item);
      return 0;
    });
  }

  function locate(item) {
    item.url = item.url || remembered(item.key);
    if (!item.url) return create(item);
    return request(item, "HEAD", item.url).then(function (xhr) {
      if (xhr.status === 404) { forget(item); item.url = null; return create(item); }
      if (xhr.status !== 200) throw problem(xhr);
      var offset = Number(xhr.getResponseHeader("Upload-Offset"));
      if (offset > 0 && item.tries === 0) item.message.textContent = text(T.resumed, {size: size(offset)});
      return xhr.getResponseHeader("Upload-State") === "receiving" ? offset : item.file.size;
    });
  }

  function send(item, offset) {
    progress(item, offset);
    if (offset >= item.file.size) return Promise.resolve();
    var end = Math.min(offset + CHUNK, item.file.size);
    var headers = {"Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream"};
    return request(item, "PATCH", item.url, headers, item.file.slice(offset, end), function (loaded) {
      progress(item, offset + loaded);
      if (end === item.file.size && offset + loaded >= end) setState(item, "filing");
    }).then(function (xhr) {
      if (xhr.status !== 204) throw problem(xhr);
      item.tries = 0;
      return send(item, Number(xhr.getResponseHeader("Upload-Offset")));
    });
  }

  function report(item) {
    return request(item, "GET", item.url).then(function (xhr) {
      if (xhr.status !== 200) throw problem(xhr);
      var state = JSON.parse(xhr.responseText);
      if (state.state === "receiving") { var e = new Error(""); e.retry = true; throw e; }
      finish(item, state);
    });
  }

  function finish(item, state) {
    if (state.state === "done") {
      forget(item);
      item.link = state.resource && state.resource.page_url;
      progress(item, item.file.size);
      setState(item, "done");
      return;
    }
    item.canRetry = !!state.retry;
    if (!item.canRetry) forget(item);
    setState(item, "failed", (state.errors || []).map(explain).join("; "));
  }

  function attempt(item) {
    if (item.state === "cancelled") return Promise.resolve();
    return locate(item).then(function (offset) {
      if (item.state === "retrying") setState(item, "uploading");
      return send(item, offset);
    }).then(function () {
      return report(item);
    }).catch(function (error) {
      if (item.state === "cancelled") return;
      if (error.gone) { forget(item); item.url = null; }
      if (!error.retry) { setState(item, "failed", error.message); return; }
      item.tries++;
      if (item.tries > MAX_TRIES) { setState(item, "paused", T.gave_up); return; }
      setState(item, "retrying", error.message);
      return wait(Math.min(30000, 1000 * Math.pow(2, item.tries - 1))).then(function () {
        return attempt(item);
      });
    });
  }

  function cancel(item) {
    var was = item.state;
    setState(item, "cancelled");
    if (item.xhr) item.xhr.abort();
    forget(item);
    if (item.url && was !== "waiting") request(item, "DELETE", item.url);
  }

  // A refused file filed again with the fields as they are now (fix them above first).
  function refile(item) {
    var changes = fields(!item.path && items.length === 1);
    changes.allow_duplicate = changes.allow_duplicate === "1";
    setState(item, "filing");
    request(item, "POST", item.url + "/ingest", {"Content-Type": "application/json"},
            JSON.stringify(changes)).then(function (xhr) {
      if (xhr.status === 201) {
        var view = JSON.parse(xhr.responseText);
        finish(item, {state: "done", resource: view});
      } else {
        var error = problem(xhr);
        item.canRetry = xhr.status !== 409;
        setState(item, "failed", error.message);
      }
    });
  }

  // -- choosing and dropping -----------------------------------------------------------------
  function addAll(list) {
    list.sort(function (a, b) { return a.path < b.path ? -1 : a.path > b.path ? 1 : 0; });
    list.forEach(function (f) { add(f.file, f.path); });
  }
  function chosen(input) {
    var list = [];
    each(input.files, function (f) { list.push({file: f, path: f.webkitRelativePath || f.name}); });
    addAll(list);
    input.value = "";
  }
  var filesInput = document.getElementById("files-input"), folderInput = document.getElementById("folder-input");
  document.getElementById("pick-files").addEventListener("click", function () { filesInput.click(); });
  document.getElementById("pick-folder").addEventListener("click", function () { folderInput.click(); });
  filesInput.addEventListener("change", function () { chosen(filesInput); });
  folderInput.addEventListener("change", function () { chosen(folderInput); });
  document.getElementById("start-upload").addEventListener("click", start);
  document.getElementById("cancel-all").addEventListener("click", function () {
    items.slice().forEach(function (it) {
      if (it.state === "waiting") remove(it);
      else if (it.state === "queued" || it.state === "uploading" || it.state === "retrying" ||
               it.state === "paused") cancel(it);
    });
  });

  function readAll(reader) {   // readEntries answers in batches (100 in Chrome) until empty
    return new Promise(function (resolve) {
      var found = [];
      (function next() {
        reader.readEntries(function (batch) {
          if (!batch.length) { resolve(found); return; }
          found = found.concat(Array.prototype.slice.call(batch));
          next();
        }, function () { resolve(found); });
      })();
    });
  }
  function walk(entry) {
    if (entry.isFile) {
      return new Promise(function (resolve) {
        entry.file(function (file) { resolve([{file: file, path: entry.fullPath.replace(/^\//, "")}]); },
                   function () { resolve([]); });
      });
    }
    if (!entry.isDirectory || JUNK.test(entry.name)) return Promise.resolve([]);
    return readAll(entry.createReader()).then(function (entries) {
      return Promise.all(entries.map(walk)).then(function (lists) { return [].concat.apply([], lists); });
    });
  }
  var zone = document.getElementById("dropzone");
  function carriesFiles(event) {   // text dragged between fields is left alone
    return event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types || [], "Files") >= 0;
  }
  document.addEventListener("dragover", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault();   // a file dropped anywhere on the page is queued, not opened
    zone.classList.add("over");
  });
  document.addEventListener("dragleave", function (event) {
    if (!event.relatedTarget) zone.classList.remove("over");
  });
  document.addEventListener("drop", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    zone.classList.remove("over");
    var data = event.dataTransfer;
    var entries = [];
    each(data.items || [], function (it) {
      var entry = it.webkitGetAsEntry && it.webkitGetAsEntry();
      if (entry) entries.push(entry);
    });
    if (entries.length) {
      Promise.all(entries.map(walk)).then(function (lists) { addAll([].concat.apply([], lists)); });
    } else {
      var list = [];
      each(data.files || [], function (f) { list.push({file: f, path: f.name}); });
      addAll(list);
    }
  });
})();
