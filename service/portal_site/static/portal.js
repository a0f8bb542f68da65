// afftrack portal: the copy buttons next to the links. Nothing else runs here, and
// every page works without it (the link is in a field to select and copy by hand).
"use strict";

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  field.select();
  const done = (ok) => {
    const label = button.textContent;
    button.textContent = ok ? button.dataset.copied : button.dataset.manual;
    setTimeout(() => { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(() => done(true), () => done(document.execCommand("copy")));
  } else {
    done(document.execCommand("copy"));
  }
});
