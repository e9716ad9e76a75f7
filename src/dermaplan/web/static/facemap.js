// The face and body map (templates/face_map.html). Each drawn area becomes a checkbox for
// keyboard and pointer: Enter or Space or a click toggles it, keeps the form's checkbox of
// the same area in step, and dispatches facemap:select {area, selected} from the map. In
// data-mode="point", a click on a drawing dispatches facemap:point {view, x, y} with x and
// y from 0 to 1 across the drawing's viewBox, so the point can be stored and drawn again.
(function () {
  "use strict";

  function boxes(map, area) {
    return map.querySelectorAll('input[type="checkbox"][value="' + CSS.escape(area) + '"]');
  }

  function show(map, area, selected) {
    map.querySelectorAll('.facemap-area[data-area="' + CSS.escape(area) + '"]').forEach(function (region) {
      region.classList.toggle("is-selected", selected);
      region.setAttribute("aria-checked", selected ? "true" : "false");
    });
  }

  function choose(map, area, selected) {
    boxes(map, area).forEach(function (box) { box.checked = selected; });
    show(map, area, selected);
    map.dispatchEvent(new CustomEvent("facemap:select", {
      bubbles: true, detail: { area: area, selected: selected }
    }));
  }

  function toggle(map, region) {
    choose(map, region.dataset.area, region.getAttribute("aria-checked") !== "true");
  }

  function relative(svg, event) {
    var box = svg.viewBox.baseVal;
    var point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    var inside = point.matrixTransform(svg.getScreenCTM().inverse());
    return {
      x: Math.min(1, Math.max(0, (inside.x - box.x) / box.width)),
      y: Math.min(1, Math.max(0, (inside.y - box.y) / box.height))
    };
  }

  function pointer(map, svg, event) {
    var at = relative(svg, event);
    map.dispatchEvent(new CustomEvent("facemap:point", {
      bubbles: true, detail: { view: svg.dataset.view, x: at.x, y: at.y }
    }));
  }

  function enhance(map) {
    var pointing = map.dataset.mode === "point";
    map.querySelectorAll(".facemap-area").forEach(function (region) {
      region.setAttribute("role", "checkbox");
      region.setAttribute("tabindex", "0");
      region.setAttribute("aria-checked", region.classList.contains("is-selected") ? "true" : "false");
      region.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          toggle(map, region);
        }
      });
      if (!pointing) {
        region.addEventListener("click", function () { toggle(map, region); });
      }
    });
    if (pointing) {
      map.querySelectorAll("svg[data-view]").forEach(function (svg) {
        svg.addEventListener("click", function (event) { pointer(map, svg, event); });
      });
    }
    map.querySelectorAll('input[type="checkbox"]').forEach(function (box) {
      box.addEventListener("change", function () { choose(map, box.value, box.checked); });
    });
  }

  function start(root) {
    root.querySelectorAll(".facemap").forEach(function (map) {
      if (!map.dataset.ready) {
        map.dataset.ready = "1";
        enhance(map);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { start(document); });
  document.addEventListener("htmx:afterSwap", function (event) { start(event.target); });
})();
