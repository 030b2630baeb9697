// One listener for failed htmx requests: show a message in the page, never fail silently.
document.addEventListener("htmx:responseError", function (evt) {
  var box = document.getElementById("messages");
  if (!box) return;
  var xhr = evt.detail.xhr;
  var p = document.createElement("p");
  p.className = "flash flash-error";
  var text = "Something went wrong (" + xhr.status + ").";
  try {
    var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
    var found = doc.querySelector(".error-page p, p");
    if (found && found.textContent.trim()) text = found.textContent.trim();
  } catch (e) {}
  p.textContent = text;
  box.replaceChildren(p);
});
document.addEventListener("htmx:sendError", function () {
  var box = document.getElementById("messages");
  if (!box) return;
  var p = document.createElement("p");
  p.className = "flash flash-error";
  p.textContent = "The server could not be reached. Check your connection and try again.";
  box.replaceChildren(p);
});
