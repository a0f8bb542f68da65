// afftrack dashboard: the copy buttons next to the short URLs, the check of a link's
// destination against the campaign's allowed domains as it is typed, and the suggestions
// of the influencer and campaign pickers. Nothing else runs here, and every page works
// without it: the server checks every form again and resolves what a picker holds.
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

// A picker (input[data-picker], the URL of its search) names an influencer or a campaign by
// its handle or slug; the server resolves what it holds (service/dashboard/pickers.py).
// Typing asks the search for suggestions, shown beneath it as an ARIA combobox's listbox:
// Down and Up move through them, Enter or a click takes one, Escape closes the list.
function picker(input) {
  const list = document.createElement("ul");
  list.id = `${input.id}-suggestions`;
  list.className = "suggestions";
  list.setAttribute("role", "listbox");
  const label = document.querySelector(`label[for="${input.id}"]`);
  list.setAttribute("aria-label", `${label ? label.textContent.replace("*", "").trim() : "Matches"}: suggestions`);
  list.hidden = true;
  const told = document.createElement("span");
  told.className = "visually-hidden";
  told.setAttribute("role", "status");
  input.after(list, told);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", list.id);

  let items = [];
  let active = -1;
  let timer = null;
  let asked = 0;

  function close() {
    list.hidden = true;
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function mark(index) {
    active = index;
    list.querySelectorAll("li[role=option]").forEach((li, i) => {
      li.setAttribute("aria-selected", String(i === index));
      if (i === index) {
        input.setAttribute("aria-activedescendant", li.id);
        li.scrollIntoView({ block: "nearest" });
      }
    });
  }

  function show(found, text) {
    items = found;
    active = -1;
    list.replaceChildren();
    input.removeAttribute("aria-activedescendant");
    found.forEach((item, i) => {
      const li = document.createElement("li");
      li.id = `${list.id}-${i}`;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.dataset.index = String(i);
      li.dataset.value = item.value;
      li.textContent = item.label;
      list.append(li);
    });
    if (!found.length) {
      const li = document.createElement("li");
      li.className = "none";
      li.textContent = `Nothing found for “${text}”.`;
      list.append(li);
    }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    told.textContent = found.length ? `${found.length} suggestion${found.length === 1 ? "" : "s"}` : "No suggestions";
  }

  function choose(index) {
    const item = items[index];
    if (!item) return;
    input.value = item.value;
    close();
    told.textContent = `${item.label} chosen`;
  }

  async function ask() {
    const text = input.value.trim();
    const mine = ++asked;
    if (!text) {
      close();
      return;
    }
    const url = new URL(input.dataset.picker, window.location.href);
    url.searchParams.set("q", text);
    try {
      const answer = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      const type = answer.headers.get("Content-Type") || "";
      if (!answer.ok || !type.startsWith("application/json")) return;
      const body = await answer.json();
      if (mine === asked && document.activeElement === input) show(body.items || [], text);
    } catch {
      // No suggestions: what is typed is still resolved by the server.
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(ask, 150);
  });
  input.addEventListener("keydown", (event) => {
    if (list.hidden || !items.length) {
      if (event.key === "ArrowDown" && input.value.trim()) {
        event.preventDefault();
        ask();
      } else if (event.key === "Escape" && !list.hidden) {
        event.preventDefault();
        close();
      }
      return;
    }
    if (event.key === "ArrowDown") {
      event.preventDefault();
      mark((active + 1) % items.length);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      mark(active <= 0 ? items.length - 1 : active - 1);
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault(); // takes the suggestion; the next Enter sends the form
      choose(active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  input.addEventListener("blur", close);
  // A press on a suggestion keeps the focus in the input, so the list is still there on click.
  list.addEventListener("mousedown", (event) => event.preventDefault());
  list.addEventListener("click", (event) => {
    const li = event.target.closest("li[role=option]");
    if (li) choose(Number(li.dataset.index));
  });
}

for (const input of document.querySelectorAll("input[data-picker]")) picker(input);
