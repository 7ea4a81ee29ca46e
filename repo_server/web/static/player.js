/* Quality switch for the resource page's <video>: change the rendition in place, keeping the
   position and play state. Without JavaScript the same links reload the page at that quality. */
(function () {
  var video = document.getElementById("player");
  var links = document.querySelectorAll("a.switch");
  if (!video) return;
  links.forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      if (link.classList.contains("active")) return;
      var at = video.currentTime, playing = !video.paused;
      video.addEventListener("loadedmetadata", function () {
        video.currentTime = at;
        if (playing) video.play();
      }, { once: true });
      video.src = link.dataset.src;
      links.forEach(function (other) { other.classList.toggle("active", other === link); });
    });
  });
})();
