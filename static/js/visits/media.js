// Camera and microphone: capture with fallbacks, and a microphone level meter.

export async function captureMedia({ video = true, audio = true } = {}) {
  const attempts = [];
  if (video && audio) attempts.push({ video: true, audio: true });
  if (audio) attempts.push({ audio: true, video: false });
  if (video) attempts.push({ video: true, audio: false });
  let lastError = null;
  for (const constraints of attempts) {
    try {
      return await navigator.mediaDevices.getUserMedia(constraints);
    } catch (error) {
      lastError = error;
    }
  }
  if (lastError) console.warn("no camera or microphone:", lastError.name);
  return new MediaStream();
}

export function levelMeter(stream, meter) {
  const track = stream.getAudioTracks()[0];
  if (!track || !meter || !window.AudioContext) return () => {};
  const context = new AudioContext();
  const source = context.createMediaStreamSource(new MediaStream([track]));
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const samples = new Uint8Array(analyser.fftSize);
  let running = true;
  const tick = () => {
    if (!running) return;
    analyser.getByteTimeDomainData(samples);
    let sum = 0;
    for (const sample of samples) sum += ((sample - 128) / 128) ** 2;
    meter.value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
    meter.dataset.peak = String(Math.max(Number(meter.dataset.peak || 0), meter.value));
    requestAnimationFrame(tick);
  };
  tick();
  return () => {
    running = false;
    context.close();
  };
}

export function stopStream(stream) {
  if (stream) for (const track of stream.getTracks()) track.stop();
}
