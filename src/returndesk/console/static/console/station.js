/* The receiving station: after each answer, a short beep that says what it was (WebAudio, no
   files), and the scanner's input cleared and focused for the next package. Loaded as a
   static file: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";
  // [frequency Hz, seconds] per beep: one high beep is good news, low repeated beeps are not.
  var TONES = {
    received: [[880, 0.12]],
    recorded: [[660, 0.08], [990, 0.12]],
    already_received: [[660, 0.15]],
    exception: [[440, 0.18], [330, 0.3]],
    unidentified: [[392, 0.15], [392, 0.15]],
    package_saved: [[660, 0.08], [990, 0.12]],
    mistyped: [[220, 0.12], [220, 0.12], [220, 0.12]]
  };
  var audio = null;

  function beep(outcome) {
    var tones = TONES[outcome];
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!tones || !Context) return;
    try {
      audio = audio || new Context();
    } catch (e) {
      return;
    }
    var at = audio.currentTime + 0.01;
    tones.forEach(function (tone) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = tone[0];
      gain.gain.setValueAtTime(0.12, at);
      gain.gain.exponentialRampToValueAtTime(0.001, at + tone[1]);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(at);
      osc.stop(at + tone[1]);
      at += tone[1] + 0.05;
    });
  }

  function settle() {
    var answer = document.querySelector("#result [data-outcome]");
    var outcome = answer ? answer.getAttribute("data-outcome") : "";
    document.body.setAttribute("data-station-outcome", outcome);
    if (outcome) beep(outcome);
    var invalid = document.querySelector("#result .error-summary");
    var first =
      invalid &&
      document.querySelector(
        "#record-form input, #record-form select, #package-form input[type=file]"
      );
    var scanner = document.getElementById("scan-code");
    if (first) {
      first.focus();
    } else if (scanner) {
      scanner.value = "";
      scanner.focus();
    }
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "result") settle();
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", settle);
  } else {
    settle();
  }
})();
