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

// A time-zone <select data-browser-zone> (onboarding, settings) that is empty, or only on a stand-in
// default (data-browser-zone="unset"), starts on the browser's own zone. Some browsers still report
// a few old names; those are mapped to the names the list offers.
var OLD_ZONE_NAMES = {
  "Asia/Calcutta": "Asia/Kolkata", "Asia/Katmandu": "Asia/Kathmandu", "Asia/Saigon": "Asia/Ho_Chi_Minh",
  "Asia/Rangoon": "Asia/Yangon", "Europe/Kiev": "Europe/Kyiv", "Atlantic/Faeroe": "Atlantic/Faroe",
  "America/Buenos_Aires": "America/Argentina/Buenos_Aires", "America/Indianapolis": "America/Indiana/Indianapolis",
  "Etc/UTC": "UTC", "Etc/GMT": "UTC", "GMT": "UTC"
};
function preselectBrowserZone(root) {
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone || !root || !root.querySelectorAll) return;
  zone = OLD_ZONE_NAMES[zone] || zone;
  root.querySelectorAll("select[data-browser-zone]").forEach(function (select) {
    if (select.value && select.getAttribute("data-browser-zone") !== "unset") return;
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === zone) { select.value = zone; return; }
    }
  });
}
document.addEventListener("DOMContentLoaded", function () { preselectBrowserZone(document); });
document.addEventListener("htmx:load", function (evt) { preselectBrowserZone(evt.detail.elt); });

// A button[data-print] (the printable lab report) opens the browser's print dialog; inline handlers are blocked by the CSP.
document.addEventListener("click", function (evt) {
  if (evt.target.closest && evt.target.closest("[data-print]")) window.print();
});
