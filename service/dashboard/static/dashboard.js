// afftrack dashboard: the copy buttons next to the short URLs. Nothing else runs here.
"use strict";

function copied(button, ok) {
  const label = button.textContent;
  button.textContent = ok ? "Copied" : "Press Ctrl+C";
  button.classList.toggle("done", ok);
  setTimeout(() => {
    button.textContent = label;
    button.classList.remove("done");
  }, 1500);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  field.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(
      () => copied(button, true),
      () => copied(button, document.execCommand("copy")),
    );
  } else {
    copied(button, document.execCommand("copy"));
  }
});
