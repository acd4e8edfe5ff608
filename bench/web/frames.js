// Realistic downlink `message.send` frames (PROTOCOL.md §3), generated deterministically
// so every bench, page and the replay server see the same traffic. Shared by the pages
// and by bench/browser/server.mjs (plain ES module, no browser or node APIs).

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const NAMES = ["Ann", "Bo", "Chidi", "Dana", "Emeka", "Fatima", "Gus", "Hana", "Ivo", "Jun",
  "Kemal", "Lena", "Mo", "Nia", "Otto", "Pia", "Quinn", "Rui", "Sana", "Tomás"];
const WORDS = ("the a to and of we it is for on that this you with are be at have meeting " +
  "tomorrow ok thanks see deploy build review later lunch today done ship merge 🙂 café " +
  "bench release fix test notes plan call idea great sure maybe").split(" ");

/** A small fast PRNG (mulberry32): the same seed gives the same frames everywhere. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `len` Crockford base32 characters from `rand`. */
function base32(rand, len) {
  let s = "";
  for (let i = 0; i < len; i++) s += CROCKFORD[Math.floor(rand() * 32)];
  return s;
}

/** A ULID-shaped id (10 time characters + 16 random) whose time part is `ms`. */
export function ulidAt(ms, rand) {
  let time = "";
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[ms % 32] + time;
    ms = Math.floor(ms / 32);
  }
  return time + base32(rand, 16);
}

function sentence(rand, words) {
  const out = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(rand() * WORDS.length)]);
  return out.join(" ");
}

/** The identities used by the frames: senders, chats, and the receiving user's id. */
export function cast(seed = 7) {
  const rand = prng(seed);
  const users = NAMES.map((nick) => ({ id: `usr_${base32(rand, 12).toLowerCase()}`, type: "direct", nick_name: nick }));
  const chats = Array.from({ length: 24 }, (_, i) => ({ id: `cht_${base32(rand, 12).toLowerCase()}`, type: i % 4 ? "direct" : "group" }));
  return { users, chats, me: `usr_me${base32(rand, 10).toLowerCase()}` };
}

/**
 * `count` downlink frames as the hub sends them (`chat_type` and `sender` stamped), with
 * unique message ids for this `batch`: mostly short and medium texts, some with a
 * mention, some with an image, in direct and group chats with many senders.
 */
export function messageFrames(count, batch = 0, seed = 11) {
  const { users, chats } = cast();
  const rand = prng(seed + batch * 7919);
  const frames = new Array(count);
  let now = 1_780_000_000_000 + batch * 10_000_000;
  for (let i = 0; i < count; i++) {
    now += 1 + Math.floor(rand() * 40);
    const chat = chats[Math.floor(rand() * chats.length)];
    const sender = users[Math.floor(rand() * users.length)];
    const r = rand();
    const fragments = [{ kind: "text", text: sentence(rand, 2 + Math.floor(rand() * (r < 0.8 ? 14 : 60))) }];
    const mentions = [];
    if (r > 0.85 && r <= 0.93) {
      const who = users[Math.floor(rand() * users.length)];
      fragments.unshift({ kind: "mention", user_id: who.id, display: `@${who.nick_name}` }, { kind: "text", text: " " });
      mentions.push(who.id);
    } else if (r > 0.93) {
      fragments.push({ kind: "image", url: `/media/med_${base32(rand, 16).toLowerCase()}`, name: "photo.jpg",
        mime: "image/jpeg", size: 20_000 + Math.floor(rand() * 2_000_000), width: 1280, height: 960 });
    }
    frames[i] = JSON.stringify({
      version: "2",
      event: "message.send",
      trace_id: `trc-${ulidAt(now, rand)}`,
      emitted_at: now,
      chat_id: chat.id,
      chat_type: chat.type,
      sender,
      payload: {
        message_id: `msg-${ulidAt(now, rand)}`,
        message_mode: "normal",
        message: { body: { fragments }, context: { mentions, reply: null } },
      },
    });
  }
  return frames;
}
