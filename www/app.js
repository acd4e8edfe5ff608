// The ClawChat demo page: built only on the SDK's public JS API, exactly as a web app
// imports it after `wasm-pack build`. Every piece of message text goes to the page through
// textContent, never as HTML.
import init, { ClawChatClient, dev, activate, ApiError, SendError, isSafeMediaUrl, onFatal } from "/pkg/clawchat_wasm.js";

const $ = (id) => document.getElementById(id);
/** The SDK's wasm, loading in the background: whatever calls into it waits for it (a
 * sign-in clicked while a cold page still compiles the module would otherwise fail). */
const ready = init();
const ACCOUNT_KEY = "clawchat-demo-account";
/** The chat open last, per account: a reload opens it again with its recent messages. */
const openChatKey = (account) => `clawchat-demo-chat:${account}`;

/** Page state: the client, people, chats and the messages of each chat. */
const state = {
  client: null,
  account: null, // the account key (the name signed in with)
  offline: false, // started without reaching the server: catch up once connected
  me: null,
  people: new Map(), // user id -> nickname
  chats: new Map(), // chat id -> chat
  messages: new Map(), // chat id -> [entry]
  unread: new Map(),
  current: null,
  replyTo: null,
  typing: new Map(), // chat id -> Map(user id -> {name, until})
  outcomes: new Map(), // message id -> {status, …}: sends from before a reload that ended
  confirmed: [], // ids of the last sends this tab heard confirmed (any tab's), newest last
};

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

const time = (ms) => new Date(ms || Date.now()).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

function chatName(chat) {
  if (chat.name && chat.type === "group") return chat.name;
  const others = chat.memberIds.filter((id) => id !== state.me.userId);
  return others.map((id) => state.people.get(id) || id).join(", ") || chat.name || chat.id;
}

// ---- errors in words ---------------------------------------------------------------

const SEND_PROBLEMS = {
  rejected: "The server refused this message.",
  chat_closed: "This conversation no longer accepts messages.",
  ack_timeout: "The server did not confirm this message.",
  ack_mismatch: "The server confirmed a different message.",
  expired: "It could not be sent in time.",
  queue_full: "Too many messages are waiting to be sent.",
  closed: "The connection closed before it was sent.",
  invalid: "This message could not be sent.",
};

const API_PROBLEMS = {
  transport: "The server cannot be reached. Check your connection and try again.",
  auth: "Your sign-in is no longer valid. Please sign in again.",
  validation: "Please check what you entered.",
  api: "The server could not do that.",
};

/** A sentence for people, and the technical detail for a "Details" disclosure. */
function explain(err) {
  if (err instanceof SendError) return { summary: SEND_PROBLEMS[err.kind] || "Not sent.", detail: `${err.kind}${err.code ? ` ${err.code}` : ""}: ${err.reason}` };
  if (err instanceof ApiError) return { summary: API_PROBLEMS[err.kind] || "Something went wrong.", detail: err.message };
  return { summary: "Something went wrong.", detail: err?.message || String(err) };
}

/** `err` explained in `container`, its detail behind a "Details" disclosure. */
function showError(container, err) {
  if (!err) return container.replaceChildren();
  const { summary, detail } = explain(err);
  container.replaceChildren(el("span", { textContent: summary }), " ",
    el("details", { className: "detail" }, el("summary", { textContent: "Details" }), el("code", { textContent: detail })));
}

// ---- rendering -------------------------------------------------------------------

function renderFragments(fragments) {
  const body = el("div", { className: "body" });
  for (const f of fragments || []) {
    if (f.kind === "text") body.append(document.createTextNode(f.text));
    else if (f.kind === "mention") body.append(el("span", { className: "mention", textContent: f.display || "@" + (f.userId || "?") }));
    else if (["image", "file", "audio", "video"].includes(f.kind) && !isSafeMediaUrl(f.url)) {
      body.append(el("em", { className: "blocked", textContent: "[attachment with an unsafe link, not shown]" }));
    }
    else if (f.kind === "image") body.append(el("img", { src: f.url, alt: f.name || "image" }));
    else if (["file", "audio", "video"].includes(f.kind)) body.append(el("a", { href: f.url, target: "_blank", rel: "noopener", textContent: `File: ${f.name || f.url}` }));
    else body.append(el("em", { textContent: "[unsupported content]" }));
  }
  return body;
}

function renderEntry(entry) {
  const mine = entry.senderId === state.me.userId;
  const meta = el("div", { className: "meta" }, el("strong", { textContent: mine ? "You" : entry.senderName }), el("span", { textContent: time(entry.sentAt) }));
  if (mine) {
    const status = el("span", { className: "status", dataset: { status: entry.status }, textContent: entry.status === "failed" ? "not sent" : entry.status });
    meta.append(status);
    if (entry.status === "failed") {
      meta.append(el("button", { type: "button", className: "link", textContent: "Retry", onclick: () => retry(entry) }));
    }
  } else {
    meta.append(el("button", { type: "button", className: "link", textContent: "Reply", onclick: () => startReply(entry) }));
  }
  const item = el("li", { className: `msg${mine ? " mine" : ""}${entry.streaming ? " streaming" : ""}`, dataset: { messageId: entry.messageId } }, meta);
  if (mine && entry.status === "failed") {
    const why = el("div", { className: "why" });
    showError(why, entry.error);
    item.append(why);
  }
  if (entry.reply) item.append(el("div", { className: "quote", textContent: `${entry.reply.nickName}: ${entry.reply.text}` }));
  item.append(renderFragments(entry.fragments));
  return item;
}

function renderMessages() {
  const list = $("messages");
  list.replaceChildren(...(state.messages.get(state.current) || []).map(renderEntry));
  list.scrollTop = list.scrollHeight;
}

function renderChats() {
  const items = [...state.chats.values()].map((chat) => {
    const unread = state.unread.get(chat.id) || 0;
    return el("li", { "aria-selected": String(chat.id === state.current), onclick: () => openChat(chat.id), dataset: { chatId: chat.id } },
      el("span", { textContent: `${chat.type === "group" ? "Group: " : ""}${chatName(chat)}` }),
      unread ? el("span", { className: "unread", textContent: String(unread) }) : null);
  });
  $("chats").replaceChildren(...items);
}

function renderPeople() {
  // A refresh may land while someone is ticking names: keep what is ticked.
  const ticked = new Set([...$("people").querySelectorAll("input:checked")].map((box) => box.value));
  const items = [...state.people.entries()].filter(([id]) => id !== state.me.userId).map(([id, name]) =>
    el("li", {}, el("label", {}, el("input", { type: "checkbox", value: id, checked: ticked.has(id) }), document.createTextNode(` ${name}`))));
  $("people").replaceChildren(...items);
}

function renderTyping() {
  const now = Date.now();
  const typers = [...(state.typing.get(state.current) || new Map()).values()].filter((t) => t.until > now).map((t) => t.name);
  $("typing").textContent = typers.length ? `${typers.join(", ")} ${typers.length > 1 ? "are" : "is"} typing…` : "";
}

/** The connection as the badge shows it; a reconnect counts down to its due time. */
const connection = { state: "idle", reconnectAt: 0 };

function setConnection(s) {
  connection.state = s.state;
  connection.reconnectAt = s.state === "reconnecting" ? Date.now() + (s.delayMs || 0) : 0;
  renderBadge();
}

function renderBadge() {
  const badge = $("badge");
  badge.dataset.state = connection.state;
  const seconds = Math.max(0, Math.ceil((connection.reconnectAt - Date.now()) / 1000));
  badge.textContent = {
    ready: "connected",
    connecting: "connecting…",
    handshaking: "connecting…",
    reconnecting: seconds > 0 ? `reconnecting in ${seconds} s` : "reconnecting…",
    logged_out: "signed out",
    closed: "offline",
    idle: "idle",
  }[connection.state] || connection.state;
  $("retry-now").hidden = connection.state !== "reconnecting";
}

const tokenStatus = { last: "none yet", refreshes: 0 };
function renderToken() {
  if (!state.client) return;
  const expiresAt = state.client.expiresAt;
  const left = expiresAt ? Math.max(0, Math.round((expiresAt - Date.now()) / 1000)) : null;
  $("token").textContent = `token ${left == null ? "—" : `expires in ${left} s`} · refreshes ${tokenStatus.refreshes} · last: ${tokenStatus.last}`;
}

// ---- state changes ------------------------------------------------------------------

function addEntry(chatId, entry) {
  if (!state.messages.has(chatId)) state.messages.set(chatId, []);
  const list = state.messages.get(chatId);
  const existing = list.findIndex((m) => m.messageId === entry.messageId);
  if (existing >= 0) list[existing] = { ...list[existing], ...entry };
  else list.push(entry);
  if (chatId === state.current) renderMessages();
  else if (existing < 0) {
    state.unread.set(chatId, (state.unread.get(chatId) || 0) + 1);
    renderChats();
  }
}

async function refreshChats() {
  const [people, chats] = await Promise.all([state.client.friends(), state.client.chats()]);
  for (const p of people) state.people.set(p.id, p.nickname);
  state.people.set(state.me.userId, state.me.nickname);
  for (const chat of chats) state.chats.set(chat.id, chat);
  if (state.chats.has(state.current)) $("chat-title").textContent = chatName(state.chats.get(state.current));
  renderChats();
  renderPeople();
}

function openChat(chatId) {
  state.current = chatId;
  localStorage.setItem(openChatKey(state.account), chatId);
  state.unread.delete(chatId);
  state.replyTo = null;
  $("replying").hidden = true;
  $("chat-title").textContent = chatName(state.chats.get(chatId));
  $("text").disabled = $("send").disabled = false;
  renderChats();
  renderMessages();
  renderTyping();
  $("text").focus();
}

function startReply(entry) {
  state.replyTo = { messageId: entry.messageId, nickName: entry.senderName, fragments: entry.fragments };
  $("replying-text").textContent = `Replying to ${entry.senderName}: ${entry.text || "[attachment]"}`;
  $("replying").hidden = false;
  $("text").focus();
}

function track(chatId, fragments, options, promise) {
  const entry = { messageId: null, chatId, senderId: state.me.userId, senderName: state.me.nickname, fragments, text: fragments.map((f) => f.text || "").join(""), reply: options.replyTo ? { nickName: options.replyTo.nickName, text: options.replyTo.fragments.map((f) => f.text || "").join("") } : null, sentAt: Date.now(), status: "sending", options };
  entry.messageId = options.messageId || `pending-${Math.random()}`;
  addEntry(chatId, entry);
  promise.then(
    (receipt) => replaceEntry(chatId, entry.messageId, { messageId: receipt.messageId, status: "sent", sentAt: receipt.acceptedAt }),
    (err) => replaceEntry(chatId, entry.messageId, { messageId: err.messageId || entry.messageId, status: "failed", error: err }),
  );
}

function replaceEntry(chatId, oldId, changes) {
  const list = state.messages.get(chatId) || [];
  const entry = list.find((m) => m.messageId === oldId);
  if (entry) Object.assign(entry, changes);
  if (chatId === state.current) renderMessages();
}

function send(chatId, fragments, options = {}) {
  const promise = state.client.sendFragments(chatId, fragments, options);
  track(chatId, fragments, options, promise);
  renderOutbox();
}

function retry(entry) {
  const list = state.messages.get(entry.chatId);
  list.splice(list.indexOf(entry), 1);
  send(entry.chatId, entry.fragments, { ...entry.options, messageId: entry.messageId });
}

// ---- wiring -------------------------------------------------------------------------

function wireClient(client) {
  client.on("state", (s) => {
    setConnection(s);
    if (s.state === "ready" && state.offline) catchUp().catch(() => {});
  });
  client.on("role", ({ role }) => renderRole(role));
  client.on("message", async (m) => {
    if (!state.chats.has(m.chatId)) await refreshChats();
    addEntry(m.chatId, { ...m, status: "received" });
    const typers = state.typing.get(m.chatId);
    if (typers) typers.delete(m.senderId);
    renderTyping();
  });
  client.on("stream", (s) => addEntry(s.chatId, { ...s, sentAt: Date.now(), streaming: s.status === "streaming", status: "received" }));
  client.on("typing", (t) => {
    if (!state.typing.has(t.chatId)) state.typing.set(t.chatId, new Map());
    const typers = state.typing.get(t.chatId);
    if (t.isTyping) typers.set(t.senderId, { name: t.senderName, until: Date.now() + 5000 });
    else typers.delete(t.senderId);
    renderTyping();
  });
  client.on("tokens", () => renderToken());
  client.on("refresh", (r) => {
    if (r.outcome === "success" || r.outcome === "adopted") tokenStatus.refreshes += 1;
    tokenStatus.last = `${r.outcome} (${r.trigger.replace("_", " ")}) at ${time()}`;
    renderToken();
  });
  client.on("logout", (e) => signedOut(e.code === 0 ? "You have signed out." : "Your session has ended. Please sign in again."));
  client.on("error", (e) => console.warn("clawchat:", e.kind, e.message));
  // Outcomes of sends queued before a reload (sends of this page settle their promise).
  client.on("sent", (s) => {
    settleQueued(s.messageId, { status: "sent", sentAt: s.acceptedAt });
    state.confirmed = [...state.confirmed, s.messageId].slice(-20);
    renderOutbox();
  });
  client.on("failed", (f) => {
    settleQueued(f.messageId, { status: "failed", error: f });
    renderOutbox();
  });
}

/** The debug panel's outbox line: the account's queued sends (all tabs) and the last
 * sends this tab heard confirmed. */
async function renderOutbox() {
  const client = state.client;
  if (!client) return;
  const queued = await client.pending().catch(() => null);
  if (client !== state.client || !queued) return;
  const box = $("outbox");
  box.dataset.queued = String(queued.length);
  box.dataset.sent = state.confirmed.join(" ");
  box.textContent = `${queued.length} queued · ${state.confirmed.length} confirmed here`;
}

/** Marks a send listed from the outbox with its outcome (remembered if not shown yet). */
function settleQueued(messageId, changes) {
  state.outcomes.set(messageId, changes);
  for (const [chatId, list] of state.messages) {
    if (list.some((m) => m.messageId === messageId)) replaceEntry(chatId, messageId, changes);
  }
}

/**
 * The chat open before a reload, with its recent messages from the client's local
 * cache: shown at once, before the connection is ready (or while the server is down).
 * Live messages join them later, each message id once.
 */
async function showRecent(chatId) {
  if (!chatId) return;
  let recent;
  try {
    recent = await state.client.history(chatId, { limit: 50 });
  } catch (err) {
    return console.warn("clawchat: no recent messages", err.kind, err.message);
  }
  state.current = chatId;
  $("chat-title").textContent = state.chats.has(chatId) ? chatName(state.chats.get(chatId)) : "…";
  $("text").disabled = $("send").disabled = false;
  for (const m of recent) addEntry(chatId, { ...m, status: m.senderId === state.me.userId ? "sent" : "received" });
  renderMessages();
  performance.mark("clawchat-demo:recent-shown", { detail: recent.length });
}

/** Who we are and our chats, from the server (again once it is back after a start offline). */
async function catchUp() {
  const me = await state.client.me();
  state.me = { userId: me.id, nickname: me.nickname };
  $("me").textContent = me.nickname;
  await refreshChats();
  if (state.offline) showError($("send-error"), null);
  state.offline = false;
}

async function start(session, nickname) {
  const options = { baseUrl: location.origin, accountKey: nickname, logLevel: "info" };
  if (session) options.session = session;
  const client = new ClawChatClient(options);
  state.outcomes.clear();
  state.confirmed = [];
  wireClient(client);
  // Sends still queued from before a reload, read before connecting re-sends them.
  const queued = await client.pending().catch(() => []);
  await client.connect();
  state.client = client;
  state.account = nickname;
  state.me = { userId: client.userId, nickname };
  localStorage.setItem(ACCOUNT_KEY, nickname);
  $("me").textContent = nickname;
  setConnection(client.state);
  renderRole(client.role);
  $("device").textContent = client.deviceId;
  $("signin").hidden = true;
  $("app").hidden = $("status").hidden = false;
  await showRecent(localStorage.getItem(openChatKey(nickname)));
  try {
    await catchUp();
  } catch (err) {
    // A fresh sign-in must reach the server; a resumed one stays open offline (the
    // client reconnects by itself) with what the cache had.
    if (session) {
      $("app").hidden = $("status").hidden = true;
      throw err;
    }
    state.offline = true;
    showError($("send-error"), err);
  }
  for (const q of queued) {
    addEntry(q.chatId, {
      messageId: q.messageId, chatId: q.chatId, senderId: state.me.userId, senderName: state.me.nickname,
      fragments: q.fragments, text: q.text, reply: null, sentAt: q.createdAt, status: "sending",
      options: {}, ...state.outcomes.get(q.messageId),
    });
  }
  renderToken();
  renderOutbox();
}

function renderRole(role) {
  $("role").textContent = `this tab: ${role}`;
  $("role").dataset.role = role;
}

/** Back to the sign-in form with a neutral note (signing out is not an error). */
function signedOut(note) {
  localStorage.removeItem(ACCOUNT_KEY);
  $("app").hidden = $("status").hidden = true;
  $("signin").hidden = false;
  $("signin-note").textContent = note || "";
  showError($("signin-error"), null);
  state.client = null;
  state.confirmed = [];
}

/** A failed sign-in, explained. */
function signInFailed(err) {
  $("signin-note").textContent = "";
  showError($("signin-error"), err);
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const nickname = $("nickname").value.trim();
  try {
    await ready;
    await start(await dev.signIn(location.origin, nickname), nickname);
  } catch (err) {
    signInFailed(err);
  }
});

$("code-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await ready;
    const session = await activate(location.origin, $("code").value);
    await start(session, session.nickname || session.userId);
  } catch (err) {
    signInFailed(err);
  }
});

let typingSent = 0;
$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (!text || !state.current) return;
  send(state.current, [{ kind: "text", text }], state.replyTo ? { replyTo: state.replyTo } : {});
  $("text").value = "";
  state.replyTo = null;
  $("replying").hidden = true;
  state.client.setTyping(state.current, false);
  typingSent = 0;
});
$("text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});
$("text").addEventListener("input", () => {
  if (state.current && Date.now() - typingSent > 2000) {
    typingSent = Date.now();
    state.client.setTyping(state.current, true);
  }
});

$("file").addEventListener("change", async () => {
  const file = $("file").files[0];
  if (!file || !state.current) return;
  try {
    send(state.current, [await state.client.uploadMedia(file)]);
    showError($("send-error"), null);
  } catch (err) {
    showError($("send-error"), err);
  }
  $("file").value = "";
});

// Skips the rest of a reconnect wait (a tab that relays through another does nothing).
$("retry-now").addEventListener("click", () => state.client?.reconnectNow());

$("cancel-reply").addEventListener("click", () => {
  state.replyTo = null;
  $("replying").hidden = true;
});

$("create-chat").addEventListener("click", async () => {
  const ids = [...$("people").querySelectorAll("input:checked")].map((box) => box.value);
  if (!ids.length) return;
  let chat;
  try {
    chat = await state.client.createChat(ids.length === 1 ? "direct" : "group", ids, $("group-name").value.trim() || undefined);
  } catch (err) {
    return showError($("send-error"), err);
  }
  state.chats.set(chat.id, chat);
  $("new-chat").open = false;
  openChat(chat.id);
});

$("new-chat").addEventListener("toggle", () => {
  if ($("new-chat").open) refreshChats();
});

$("logout").addEventListener("click", () => state.client && state.client.logout());

setInterval(() => { renderToken(); renderTyping(); renderBadge(); }, 500);
// Other tabs queue sends too: while the panel is open, its outbox line is kept current.
setInterval(() => { if ($("debug").open) renderOutbox(); }, 1000);

await ready;
// Bad input is refused without harm; should the SDK still hit an internal error (a bug),
// its module is not to be trusted any more: say so and start again from the stored
// session, which a reload resumes.
onFatal(() => {
  $("fatal").hidden = false;
  setTimeout(() => location.reload(), 2000);
});
const remembered = localStorage.getItem(ACCOUNT_KEY);
if (remembered) start(null, remembered).catch(() => signedOut());
