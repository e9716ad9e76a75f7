/* Session charting (templates/session_form.html): each facemap:point of the face map is
   kept as a hidden "points" field, "area:view:x:y" (x and y from 0 to 1 of the drawing),
   and drawn at once. Its area is the region clicked, when it is one of the session's areas,
   or else the one chosen in the form; the areas chosen on the map are offered there. From
   the keyboard, a button places a point inside the chosen area's drawing. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function setUp(form) {
    var map = form.querySelector(".facemap");
    var holder = form.querySelector("[data-points]");
    var chooser = form.querySelector("[data-point-area]");
    var count = form.querySelector("[data-point-count]");
    var undo = form.querySelector("[data-point-undo]");
    var add = form.querySelector("[data-point-add]");
    if (!map || !holder || !chooser || !count) { return; }
    var clicked = null;
    var placed = [];

    function offered(area) {
      return Array.prototype.some.call(chooser.options, function (o) { return o.value === area; });
    }
    function tell(text) { count.textContent = text; }
    function counted() {
      var placedHere = holder.querySelectorAll("input").length;
      tell(placedHere + (placedHere === 1 ? " injection point placed" : " injection points placed"));
    }

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

    function inside(region) {
      var box = region.getBBox();
      for (var step = 1; step < 10; step++) {
        var spot = new DOMPoint(box.x + box.width * step / 10, box.y + box.height / 2);
        if (region.isPointInFill(spot)) { return spot; }
      }
      return new DOMPoint(box.x + box.width / 2, box.y + box.height / 2);
    }

    if (add) {
      add.addEventListener("click", function () {
        var area = chooser.value;
        var region = area ? map.querySelector('.facemap-area[data-area="' + CSS.escape(area) + '"]') : null;
        if (!region) { tell(area ? "This area is not drawn on the map" : "Choose an area treated first"); return; }
        var drawing = region.ownerSVGElement;
        var view = drawing.viewBox.baseVal;
        var spot = inside(region);
        clicked = area;
        map.dispatchEvent(new CustomEvent("facemap:point", {
          bubbles: true,
          detail: { view: drawing.dataset.view, x: (spot.x - view.x) / view.width, y: (spot.y - view.y) / view.height }
        }));
      });
    }

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
