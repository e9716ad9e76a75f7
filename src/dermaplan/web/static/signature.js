/* The signing pad of the consent page: strokes drawn with a finger, a stylus or the mouse
   (pointer events) on a transparent canvas, sent as a PNG data URL in the form's hidden
   field when the form is submitted. Nothing is sent for a pad left blank, so the typed
   name (for keyboard users) is what signs then. */
(function () {
  "use strict";

  function setUp(form) {
    var pad = form.querySelector("[data-signature-pad]");
    var value = form.querySelector("[data-signature-value]");
    var clear = form.querySelector("[data-signature-clear]");
    if (!pad || !value) { return; }
    var context = pad.getContext("2d");
    var drawn = false;
    var last = null;

    context.lineWidth = 3;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = "#1d2330";

    function at(event) {
      var box = pad.getBoundingClientRect();
      return {
        x: (event.clientX - box.left) * (pad.width / box.width),
        y: (event.clientY - box.top) * (pad.height / box.height)
      };
    }

    pad.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      pad.setPointerCapture(event.pointerId);
      last = at(event);
      context.beginPath();
      context.arc(last.x, last.y, context.lineWidth / 2, 0, 2 * Math.PI);
      context.fillStyle = context.strokeStyle;
      context.fill();
      drawn = true;
    });
    pad.addEventListener("pointermove", function (event) {
      if (last === null) { return; }
      event.preventDefault();
      var point = at(event);
      context.beginPath();
      context.moveTo(last.x, last.y);
      context.lineTo(point.x, point.y);
      context.stroke();
      last = point;
    });
    function stop() { last = null; }
    pad.addEventListener("pointerup", stop);
    pad.addEventListener("pointercancel", stop);

    if (clear) {
      clear.addEventListener("click", function () {
        context.clearRect(0, 0, pad.width, pad.height);
        drawn = false;
        value.value = "";
      });
    }
    form.addEventListener("submit", function () {
      value.value = drawn ? pad.toDataURL("image/png") : "";
    });
  }

  document.querySelectorAll("[data-signature-form]").forEach(setUp);
})();
