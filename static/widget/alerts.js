// While the page's tab is hidden, a new reply rings once and the tab's title blinks until the shopper comes back.
let audio = null;
let blink = null;
let title = "";

/** Called on a user gesture (opening the chat): browsers only let sound start after one. */
export function allowSound() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!audio && Context) audio = new Context();
}

function ring() {
  if (!audio || audio.state !== "running") return;
  const tone = audio.createOscillator();
  const gain = audio.createGain();
  tone.frequency.value = 880;
  gain.gain.setValueAtTime(0.08, audio.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.35);
  tone.connect(gain).connect(audio.destination);
  tone.start();
  tone.stop(audio.currentTime + 0.35);
}

export function alertHidden(text) {
  if (!document.hidden) return;
  ring();
  if (blink) return;
  title = document.title;
  let on = false;
  blink = setInterval(() => {
    on = !on;
    document.title = on ? text : title;
  }, 1000);
  document.addEventListener("visibilitychange", function back() {
    if (document.hidden) return;
    clearInterval(blink);
    blink = null;
    document.title = title;
    document.removeEventListener("visibilitychange", back);
  });
}
