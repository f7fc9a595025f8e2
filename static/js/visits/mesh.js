// A WebRTC mesh of up to four participants. One RTCPeerConnection per peer, "perfect
// negotiation" (the peer with the smaller id is polite), ICE restart after a blip.
// The newcomer offers to everyone already in the room; everyone answers.

const AWAY_GRACE_MS = 20000;

export class Mesh {
  constructor({ signal, iceConfig, localStream, selfId, onRemoteStream, onPeerState, onPeerGone }) {
    this.signal = signal;
    this.iceConfig = iceConfig;
    this.localStream = localStream;
    this.selfId = selfId;
    this.onRemoteStream = onRemoteStream || (() => {});
    this.onPeerState = onPeerState || (() => {});
    this.onPeerGone = onPeerGone || (() => {});
    this.peers = new Map();
    this.sessions = new Map(); // peer id -> their page session, from the server's join events
    this.iceRestarts = 0;
  }

  rtcConfiguration() {
    const config = { iceServers: this.iceConfig.iceServers || [], bundlePolicy: "max-bundle" };
    if (this.iceConfig.iceTransportPolicy === "relay") config.iceTransportPolicy = "relay";
    return config;
  }

  // The server's "joined": offer to every peer; a peer we still hold from before a blip
  // (same page session) gets an ICE restart instead of a new connection.
  joined(selfId, peers) {
    this.selfId = selfId;
    for (const info of peers) {
      this.sessions.set(info.id, info.session || "");
      const existing = this.peers.get(info.id);
      if (existing && existing.session === info.session && existing.pc.connectionState !== "closed") {
        existing.away = false;
        clearTimeout(existing.awayTimer);
        this.iceRestarts += 1;
        existing.pc.restartIce();
      } else {
        if (existing) this.close(info.id);
        this.create(info, { offer: true });
      }
    }
  }

  peerJoined(info) {
    this.sessions.set(info.id, info.session || "");
    const existing = this.peers.get(info.id);
    if (!existing) return; // they will offer to us
    if (existing.session !== info.session) {
      this.close(info.id); // a reloaded page: a fresh connection is coming
    } else {
      existing.away = false;
      clearTimeout(existing.awayTimer);
    }
  }

  peerLeft(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    peer.away = true;
    clearTimeout(peer.awayTimer);
    peer.awayTimer = setTimeout(() => {
      if (peer.away) this.close(id);
    }, AWAY_GRACE_MS);
  }

  create(info, { offer = false } = {}) {
    const pc = new RTCPeerConnection(this.rtcConfiguration());
    const peer = {
      id: info.id,
      name: info.name || "Participant",
      role: info.role || "",
      session: info.session || this.sessions.get(info.id) || "",
      pc,
      polite: this.selfId < info.id,
      makingOffer: false,
      ignoreOffer: false,
      pending: [],
      stream: null,
      away: false,
      awayTimer: null,
    };
    this.peers.set(info.id, peer);
    const audio = this.localStream.getAudioTracks()[0];
    const video = this.localStream.getVideoTracks()[0];
    if (audio) pc.addTrack(audio, this.localStream);
    else pc.addTransceiver("audio", { direction: "sendrecv", streams: [this.localStream] });
    if (video) pc.addTrack(video, this.localStream);
    else pc.addTransceiver("video", { direction: "sendrecv", streams: [this.localStream] });

    pc.ontrack = ({ track, streams }) => {
      if (!peer.stream) peer.stream = streams[0] || new MediaStream();
      if (!peer.stream.getTracks().includes(track)) peer.stream.addTrack(track);
      this.onRemoteStream(peer);
    };
    pc.onicecandidate = ({ candidate }) => {
      this.signal.send({ type: "ice", to: peer.id, candidate: candidate ? candidate.toJSON() : null });
    };
    pc.onnegotiationneeded = async () => {
      if (!offer && !pc.remoteDescription) return; // the answering side waits for the offer
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        this.signal.send({ type: "offer", to: peer.id, sdp: { type: "offer", sdp: pc.localDescription.sdp } });
      } catch (error) {
        console.warn("offer failed", error);
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === "failed") pc.restartIce();
    };
    pc.onconnectionstatechange = () => this.onPeerState(peer, pc.connectionState);
    return peer;
  }

  async handle(message) {
    let peer = this.peers.get(message.from);
    if (!peer) {
      if (message.type !== "offer") return;
      peer = this.create({ id: message.from, name: message.name, role: message.role, session: "" });
    }
    if (message.name) peer.name = message.name;
    const pc = peer.pc;
    try {
      if (message.type === "offer" || message.type === "answer") {
        const description = message.sdp;
        const collision = description.type === "offer" && (peer.makingOffer || pc.signalingState !== "stable");
        peer.ignoreOffer = !peer.polite && collision;
        if (peer.ignoreOffer) return;
        await pc.setRemoteDescription(description);
        for (const candidate of peer.pending.splice(0)) await pc.addIceCandidate(candidate).catch(() => {});
        if (description.type === "offer") {
          await pc.setLocalDescription();
          this.signal.send({ type: "answer", to: peer.id, sdp: { type: "answer", sdp: pc.localDescription.sdp } });
        }
      } else if (message.type === "ice" && message.candidate) {
        if (!pc.remoteDescription) peer.pending.push(message.candidate);
        else await pc.addIceCandidate(message.candidate);
      }
    } catch (error) {
      if (!peer.ignoreOffer) console.warn("signaling error", error);
    }
  }

  videoSenders() {
    const senders = [];
    for (const peer of this.peers.values()) {
      for (const transceiver of peer.pc.getTransceivers()) {
        if (transceiver.receiver.track && transceiver.receiver.track.kind === "video") senders.push(transceiver.sender);
      }
    }
    return senders;
  }

  audioSenders() {
    const senders = [];
    for (const peer of this.peers.values()) {
      for (const transceiver of peer.pc.getTransceivers()) {
        if (transceiver.receiver.track && transceiver.receiver.track.kind === "audio") senders.push(transceiver.sender);
      }
    }
    return senders;
  }

  // Replace (or stop sending) our camera on every connection; no renegotiation needed.
  async setVideoTrack(track) {
    await Promise.all(this.videoSenders().map((sender) => sender.replaceTrack(track)));
  }

  async setAudioTrack(track) {
    await Promise.all(this.audioSenders().map((sender) => sender.replaceTrack(track)));
  }

  close(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    clearTimeout(peer.awayTimer);
    peer.pc.close();
    this.peers.delete(id);
    this.onPeerGone(peer);
  }

  closeAll() {
    for (const id of [...this.peers.keys()]) this.close(id);
  }

  // What tests and diagnostics read: state, decoded frames, the selected candidate pair.
  async stats() {
    const result = {};
    for (const peer of this.peers.values()) {
      const report = await peer.pc.getStats();
      let framesDecoded = 0;
      let audioPackets = 0;
      let videoBytesSent = 0;
      let pair = null;
      const byId = new Map();
      report.forEach((entry) => byId.set(entry.id, entry));
      report.forEach((entry) => {
        if (entry.type === "inbound-rtp" && entry.kind === "video") framesDecoded += entry.framesDecoded || 0;
        if (entry.type === "inbound-rtp" && entry.kind === "audio") audioPackets += entry.packetsReceived || 0;
        if (entry.type === "outbound-rtp" && entry.kind === "video") videoBytesSent += entry.bytesSent || 0;
        if (entry.type === "transport" && entry.selectedCandidatePairId) pair = byId.get(entry.selectedCandidatePairId);
      });
      if (!pair) report.forEach((entry) => {
        if (entry.type === "candidate-pair" && entry.nominated && entry.state === "succeeded") pair = entry;
      });
      const local = pair ? byId.get(pair.localCandidateId) : null;
      const remote = pair ? byId.get(pair.remoteCandidateId) : null;
      result[peer.id] = {
        name: peer.name,
        connectionState: peer.pc.connectionState,
        framesDecoded,
        audioPackets,
        videoBytesSent,
        localCandidateType: local ? local.candidateType : null,
        remoteCandidateType: remote ? remote.candidateType : null,
      };
    }
    return result;
  }
}
