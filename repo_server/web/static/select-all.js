// "Select all on this page" for the bulk-edit list: ticks every checkbox named by data-target.
(function () {
  var all = document.getElementById("select-all");
  if (!all) return;
  all.addEventListener("change", function () {
    var boxes = document.querySelectorAll('input[type=checkbox][name="' + all.dataset.target + '"]');
    for (var i = 0; i < boxes.length; i++) boxes[i].checked = all.checked;
  });
})();
