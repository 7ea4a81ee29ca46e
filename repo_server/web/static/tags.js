// Tag autocompletion for a comma-separated tags field: the browser's datalist completes the
// whole value, so its options are rewritten to "tags typed so far, " + each known tag.
(function () {
  var inputs = document.querySelectorAll("input[data-tags]");
  for (var i = 0; i < inputs.length; i++) {
    (function (input) {
      var list = document.getElementById(input.getAttribute("list"));
      if (!list) return;
      var known = [];
      for (var j = 0; j < list.options.length; j++) known.push(list.options[j].value);
      input.addEventListener("input", function () {
        var cut = Math.max(input.value.lastIndexOf(","), input.value.lastIndexOf("，"));
        var head = cut >= 0 ? input.value.slice(0, cut + 1) : "";
        var typed = input.value.slice(cut + 1).trim();
        while (list.firstChild) list.removeChild(list.firstChild);
        for (var k = 0; k < known.length && list.childNodes.length < 50; k++) {
          if (known[k].indexOf(typed) === 0) {
            var option = document.createElement("option");
            option.value = head + known[k];
            list.appendChild(option);
          }
        }
      });
    })(inputs[i]);
  }
})();
