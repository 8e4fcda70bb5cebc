// The app's shell: sign-in with an API key (kept in this tab's sessionStorage only) and a hash router.

import { Api, ApiError } from "./api.js";
import { h, replace } from "./dom.js";
import { renderHome } from "./home.js";
import { renderJob } from "./job.js";
import { UploadManager } from "./upload.js";

const KEY = "smmu.apiKey";
const main = document.getElementById("main");
const signOutButton = document.getElementById("sign-out");
let ctx = null;
let leaveView = null;

function signOut(message) {
  sessionStorage.removeItem(KEY);
  ctx = null;
  leaveView?.();
  leaveView = null;
  renderSignIn(message);
}

function signIn(key) {
  sessionStorage.setItem(KEY, key);
  const api = new Api(key, () => signOut("The API key was not accepted any more; sign in again."));
  ctx = { api, uploads: new UploadManager(api) };
  route();
}

function renderSignIn(message) {
  signOutButton.hidden = true;
  const input = h("input", {
    id: "api-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "api-key-help",
  });
  const error = h("p", { class: "error-text", role: "alert", id: "sign-in-error" }, message || "");
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "sign-in", id: "sign-in" },
    h("h1", {}, "Sign in"),
    h("label", { for: "api-key" }, "API key"),
    input,
    h(
      "p",
      { class: "muted", id: "api-key-help" },
      "make dev prints the dev tenant's key (also in .smmu/api-key); smmu keys create makes others. ",
      "It is kept in this tab only.",
    ),
    button,
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    button.disabled = true;
    replace(error, "");
    try {
      // Any authorised route tells whether the key is good; the limits are needed anyway.
      await new Api(key).get("/v1/limits");
      signIn(key);
    } catch (e) {
      replace(error, e instanceof ApiError && e.status === 401 ? `That key was not accepted: ${e.message}` : `Could not sign in: ${e.message}`);
      button.disabled = false;
      input.focus();
    }
  });
  replace(main, form);
  input.focus();
}

function route() {
  if (!ctx) return;
  signOutButton.hidden = false;
  leaveView?.();
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query || "");
  const job = path.match(/^\/jobs\/([0-9a-fA-F-]{36})$/);
  leaveView = job ? renderJob(main, ctx, job[1], params) : renderHome(main, ctx);
  document.title = job ? "Job · Smart Media Uploader" : "Smart Media Uploader";
}

signOutButton.addEventListener("click", () => signOut(""));
window.addEventListener("hashchange", route);
// A file dropped outside the drop zone must not replace the app (and its uploads) with the file itself.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());

const saved = sessionStorage.getItem(KEY);
if (saved) signIn(saved);
else renderSignIn("");
