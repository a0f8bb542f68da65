// afftrack dashboard: the copy buttons next to the short URLs, and the check of a link's
// destination against the campaign's allowed domains as it is typed. Nothing else runs
// here, and every page works without it: the server checks every form again.
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

// A destination input carries its campaign's allowed domains (data-allowed-domains); the
// message beside it says at once when the typed address is not on one of them. The same
// rules as the server's check (service/links/destinations.py), which decides.
function destinationProblem(value, domains) {
  const typed = value.trim();
  if (!typed) return null;
  let url;
  try {
    url = new URL(typed);
  } catch {
    return "Enter the whole address, starting with https://.";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return "The address must start with https:// (or http://).";
  }
  if (url.username || url.password) return "The address must not carry a user name or password.";
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (domains.some((d) => host === d || host.endsWith("." + d))) return "";
  return `${host} is not an allowed domain for this campaign. Allowed: ${domains.join(", ")} and their subdomains.`;
}

function checkDestination(input) {
  const message = document.getElementById("live-" + input.name);
  if (!message) return;
  const domains = (input.dataset.allowedDomains || "").split(" ").filter(Boolean);
  const problem = destinationProblem(input.value, domains);
  const field = input.closest(".field");
  for (const old of field.querySelectorAll(".field-error:not(.live)")) old.hidden = true;
  message.hidden = problem === null;
  message.textContent = problem || (problem === "" ? "On an allowed domain." : "");
  message.classList.toggle("ok", problem === "");
  field.classList.toggle("invalid", Boolean(problem));
  if (problem) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", message.id);
  } else {
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
  }
}

document.addEventListener("input", (event) => {
  if (event.target.matches("input[data-allowed-domains]")) checkDestination(event.target);
});
