// The signaling socket of one visit: reconnects after a network blip (with backoff) unless the
// server closed it for good (refused, replaced, ended, rate limited).

const FINAL_CODES = new Set([4403, 4409, 4410, 4429]);

export class SignalClient {
  constructor(visitId, { onMessage, onOpen, onClose } = {}) {
    this.visitId = visitId;
    this.onMessage = onMessage || (() => {});
    this.onOpen = onOpen || (() => {});
    this.onClose = onClose || (() => {});
    this.socket = null;
    this.stopped = false;
    this.attempt = 0;
    this.pingTimer = null;
  }

  get url() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${window.location.host}/ws/visits/${this.visitId}/`;
  }

  get isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  connect() {
    this.stopped = false;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.onOpen();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      const final = this.stopped || FINAL_CODES.has(event.code);
      this.onClose(event.code, final);
      if (!final) this.scheduleReconnect();
    });
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.send({ type: "ping" }), 20000);
  }

  scheduleReconnect() {
    this.attempt += 1;
    const delay = Math.min(5000, 200 * 2 ** Math.min(this.attempt, 5)) + Math.random() * 150;
    setTimeout(() => {
      if (!this.stopped) this.connect();
    }, delay);
  }

  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  // Drop the socket as a network failure would (tests and the "reconnect" path use it).
  drop() {
    if (this.socket) this.socket.close(4000, "client reconnect");
  }

  close() {
    this.stopped = true;
    clearInterval(this.pingTimer);
    if (this.socket) this.socket.close(1000, "bye");
  }
}
