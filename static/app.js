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
