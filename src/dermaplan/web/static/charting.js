/* Session charting (templates/session_form.html): each facemap:point of the face map is
   kept as a hidden "points" field, "area:view:x:y" (x and y from 0 to 1 of the drawing),
   and drawn at once. Its area is the region clicked, when it is one of the session's areas,
   or else the one chosen in the form; the areas chosen on the map are offered there. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function setUp(form) {
    var map = form.querySelector(".facemap");
    var holder = form.querySelector("[data-points]");
    var chooser = form.querySelector("[data-point-area]");
    var count = form.querySelector("[data-point-count]");
    var undo = form.querySelector("[data-point-undo]");
    if (!map || !holder || !chooser || !count) { return; }
    var clicked = null;
    var placed = [];

    function offered(area) {
      return Array.prototype.some.call(chooser.options, function (o) { return o.value === area; });
    }
    function tell(text) { count.textContent = text; }
    function counted() { tell(holder.querySelectorAll("input").length + " injection points placed"); }

    map.addEventListener("click", function (event) {
      var region = event.target.closest ? event.target.closest(".facemap-area") : null;
      clicked = region ? region.getAttribute("data-area") : null;
    }, true);

    map.addEventListener("facemap:point", function (event) {
      var at = event.detail;
      var area = clicked && offered(clicked) ? clicked : chooser.value;
      if (!area) { tell("Choose an area treated first"); return; }
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = "points";
      field.value = [area, at.view, at.x.toFixed(4), at.y.toFixed(4)].join(":");
      holder.appendChild(field);
      var drawing = map.querySelector('svg[data-view="' + CSS.escape(at.view) + '"]');
      var dot = null;
      if (drawing) {
        var box = drawing.viewBox.baseVal;
        dot = document.createElementNS(SVG, "circle");
        dot.setAttribute("class", "facemap-point");
        dot.setAttribute("cx", String(box.x + at.x * box.width));
        dot.setAttribute("cy", String(box.y + at.y * box.height));
        dot.setAttribute("r", "3");
        dot.setAttribute("aria-hidden", "true");
        drawing.appendChild(dot);
      }
      placed.push({ field: field, dot: dot });
      counted();
    });

    map.addEventListener("facemap:select", function (event) {
      var area = event.detail.area;
      if (event.detail.selected && !offered(area)) {
        var option = document.createElement("option");
        option.value = area;
        option.textContent = area.replace(/_/g, " ");
        chooser.appendChild(option);
        chooser.value = area;
      }
    });

    if (undo) {
      undo.addEventListener("click", function () {
        var last = placed.pop();
        if (!last) { tell("No point placed on this page to remove"); return; }
        last.field.remove();
        if (last.dot) { last.dot.remove(); }
        counted();
      });
    }
  }

  document.querySelectorAll("[data-charting]").forEach(setUp);
})();
