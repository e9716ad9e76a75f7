/* The photo pages (web/photo_pages.py): the tablet's camera with a ghost of the last photo
   of the same view laid over it, the photo taken put into the form's file field; and the
   comparison slider. No inline script or style: the slider moves a clip by CSS classes. */
"use strict";

(function () {
  const SLIDER_STEPS = 5; // the range input's step, and the step of the .clip-N classes

  function lastPhotoOf(area, angle) {
    const ghosts = document.querySelectorAll(".ghosts li");
    let found = null;
    ghosts.forEach(function (ghost) {
      if (ghost.dataset.area === area && ghost.dataset.angle === angle) {
        found = ghost.dataset.photo; // the list is oldest first: the last match is the latest
      }
    });
    return found;
  }

  function camera(form) {
    const section = form.querySelector(".camera");
    if (!section || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return; // no camera here: the upload field alone
    }
    section.hidden = false;
    const video = section.querySelector("video.live");
    const ghost = section.querySelector("img.ghost");
    const still = section.querySelector("canvas.still");
    const start = section.querySelector(".start-camera");
    const take = section.querySelector(".take-photo");
    const ghostState = section.querySelector(".ghost-state");
    const cameraState = section.querySelector(".camera-state");
    const area = form.querySelector("#photo-area");
    const angle = form.querySelector("#photo-angle");
    const file = form.querySelector("#photo-file");

    function showGhost() {
      const photo = lastPhotoOf(area.value.trim(), angle.value.trim());
      if (photo) {
        ghost.src = "/photos/" + photo + "/file";
        ghost.hidden = false;
        ghostState.textContent = "The last photo of this view is laid over the camera's picture.";
      } else {
        ghost.hidden = true;
        ghost.removeAttribute("src");
        ghostState.textContent = "No earlier photo of this view to line up with.";
      }
    }
    area.addEventListener("input", showGhost);
    angle.addEventListener("input", showGhost);
    showGhost();

    start.addEventListener("click", function () {
      navigator.mediaDevices
        .getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (stream) {
          video.srcObject = stream;
          return video.play();
        })
        .then(function () {
          still.hidden = true;
          video.hidden = false;
          take.disabled = false;
          cameraState.textContent = "The camera is on.";
          take.focus();
        })
        .catch(function (error) {
          cameraState.textContent = "The camera cannot be used (" + error.name + "): upload a file instead.";
        });
    });

    take.addEventListener("click", function () {
      still.width = video.videoWidth;
      still.height = video.videoHeight;
      still.getContext("2d").drawImage(video, 0, 0, still.width, still.height);
      still.toBlob(
        function (blob) {
          const taken = new DataTransfer();
          taken.items.add(new File([blob], "camera.jpg", { type: "image/jpeg" }));
          file.files = taken.files;
          still.hidden = false;
          video.hidden = true;
          cameraState.textContent = "Photo taken: it is in the form; store it, or take it again.";
        },
        "image/jpeg",
        0.95
      );
      const stream = video.srcObject;
      if (stream) {
        stream.getTracks().forEach(function (track) { track.stop(); });
      }
      video.srcObject = null;
      take.disabled = true;
    });
  }

  function slider(range) {
    const later = range.closest("section").querySelector(".slider img.later");
    function clip() {
      const share = Math.round(Number(range.value) / SLIDER_STEPS) * SLIDER_STEPS;
      later.className = later.className.replace(/\bclip-\d+\b/, "clip-" + share);
    }
    range.addEventListener("input", clip);
    clip();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.photo-form").forEach(camera);
    document.querySelectorAll("input.slider-share").forEach(slider);
  });
})();
