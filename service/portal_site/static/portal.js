// afftrack portal: the copy buttons next to the links, and a form sent once (Sign in:
// its button is disabled once pressed). Nothing else runs here, and every page works
// without it (the link is in a field to select and copy by hand; a second press of
// Sign in within a minute signs in again).
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

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-once]");
  if (!form) return;
  if (form.dataset.sent) {
    event.preventDefault();
    return;
  }
  form.dataset.sent = "1";
  // Disabled after the browser has taken the press (a disabled button sends nothing).
  setTimeout(() => {
    for (const button of form.querySelectorAll("button")) button.disabled = true;
  }, 0);
});

// Back to the page from the browser's history: its forms can be sent again.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  for (const form of document.querySelectorAll("form[data-once]")) {
    delete form.dataset.sent;
    for (const button of form.querySelectorAll("button")) button.disabled = false;
  }
});
