// Phase marks for the cold-start pages: `bench/browser cold-phases` adds this as an init
// script (the cold-start bench does not, so its pages run untouched). Wraps indexedDB.open,
// navigator.locks.request, BroadcastChannel and WebSocket to record when each step starts
// and ends, and gives the pages `window.mark(what)`; prints nothing itself.
{
  const marks = [];
  window.coldMarks = marks;
  const mark = (what) => marks.push([performance.now(), what]);
  window.mark = mark;
  const open = indexedDB.open.bind(indexedDB);
  indexedDB.open = (name, version) => {
    mark(`IndexedDB open ${name}`);
    const request = open(name, version);
    request.addEventListener("upgradeneeded", () => mark(`IndexedDB upgrade ${name}`));
    request.addEventListener("success", () => mark(`IndexedDB opened ${name}`));
    return request;
  };
  const request = navigator.locks.request.bind(navigator.locks);
  navigator.locks.request = (name, ...rest) => {
    mark("Web Lock requested");
    const callback = rest.at(-1);
    rest[rest.length - 1] = (lock) => (mark("Web Lock granted"), callback(lock));
    return request(name, ...rest);
  };
  const Channel = BroadcastChannel;
  window.BroadcastChannel = function (name) {
    mark("BroadcastChannel joined");
    return new Channel(name);
  };
  const Socket = WebSocket;
  window.WebSocket = function (url, protocols) {
    mark("WebSocket created");
    const socket = new Socket(url, protocols);
    socket.addEventListener("open", () => mark("WebSocket open"));
    socket.addEventListener("message", () => mark("first frame"), { once: true });
    return socket;
  };
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket.prototype = Socket.prototype;
  mark("page script");
}
