// The little JavaScript the pages use; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // "Copy" buttons next to code blocks (DNS snippet, enrollment command).
  for (const b of document.querySelectorAll("button[data-copy]")) {
    b.addEventListener("click", async () => {
      const el = document.getElementById(b.dataset.copy);
      if (!el) return;
      try {
        await navigator.clipboard.writeText(el.textContent);
        b.classList.add("done");
        setTimeout(() => b.classList.remove("done"), 1500);
      } catch (_) {
        const r = document.createRange();
        r.selectNodeContents(el);
        const s = window.getSelection();
        s.removeAllRanges();
        s.addRange(r);
      }
    });
  }
  // Password fields: "Show"/"Hide", and on administrators' forms "Generate" (16 characters
  // from the browser's random source, shown so they can be handed over). Labels come from the
  // page, in its language.
  const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  for (const input of document.querySelectorAll("input[data-password]")) {
    const bar = document.createElement("span");
    bar.className = "password-tools";
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "link";
    toggle.textContent = input.dataset.show;
    toggle.setAttribute("aria-controls", input.id);
    toggle.addEventListener("click", () => {
      const shown = input.type === "text";
      input.type = shown ? "password" : "text";
      toggle.textContent = shown ? input.dataset.show : input.dataset.hide;
    });
    bar.append(toggle);
    if (input.dataset.generate) {
      const gen = document.createElement("button");
      gen.type = "button";
      gen.className = "link";
      gen.id = input.id + "-generate";
      gen.textContent = input.dataset.generate;
      gen.addEventListener("click", () => {
        // Bytes past the last whole multiple of the alphabet are dropped: no letter is likelier.
        const limit = 256 - (256 % alphabet.length);
        let out = "";
        while (out.length < 16) {
          const bytes = new Uint8Array(32);
          crypto.getRandomValues(bytes);
          for (const b of bytes) if (b < limit && out.length < 16) out += alphabet[b % alphabet.length];
        }
        input.value = out;
        input.type = "text";
        toggle.textContent = input.dataset.hide;
      });
      bar.append(" · ", gen);
    }
    input.after(bar);
  }
  // "All on this page" in a list with checkboxes for a bulk action (the users page).
  for (const all of document.querySelectorAll("input[type=checkbox][data-all]")) {
    all.hidden = false;
    all.addEventListener("change", () => {
      for (const c of document.querySelectorAll(`input[type=checkbox][form="${all.dataset.all}"]`)) {
        if (c !== all) c.checked = all.checked;
      }
    });
  }
  // A chosen CSV file is read into the text area, so the form stays a plain form. A file that is
  // not UTF-8 is read as Windows-1251 (what Russian Excel saves as "CSV"), so Cyrillic names
  // arrive as they were typed.
  for (const f of document.querySelectorAll("input[type=file][data-into]")) {
    f.addEventListener("change", () => {
      const target = document.getElementById(f.dataset.into);
      if (!f.files.length || !target) return;
      f.files[0].arrayBuffer().then((buf) => {
        try {
          target.value = new TextDecoder("utf-8", { fatal: true }).decode(buf);
        } catch (_) {
          target.value = new TextDecoder("windows-1251").decode(buf);
        }
      });
    });
  }
});
