// What the page tells the radiologist: one error banner (role=alert, stays until dismissed or replaced)
// and one notice line (role=status, fades after a while). Every failed call ends up here: never silent.

import { ApiError } from "./api.js";

const $ = (id) => document.getElementById(id);
let noticeTimer = null;
let onUnauthorized = () => {};

export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

export function showError(text) {
  $("error-text").textContent = text;
  $("error").hidden = false;
  $("notice").hidden = true; // an older success line next to a new error would mislead
}

export function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

export function showNotice(text) {
  const notice = $("notice");
  notice.textContent = text;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (notice.hidden = true), 6000);
}

/** Shows a failed call as "<what we tried>: <why>"; a rejected token sends the user back to sign-in. */
export function reportError(err, doing) {
  if (err instanceof ApiError && err.status === 401) {
    onUnauthorized("Your token was not accepted (expired or wrong). Sign in again.");
    return;
  }
  let why = err && err.message ? err.message : String(err);
  if (err instanceof ApiError && err.status === 403) why = `your role may not do this (${why})`;
  showError(`${doing} failed: ${why}`);
  if (!(err instanceof ApiError)) console.error(err); // a bug of the page itself: keep the stack for us
}

export function wireMessages() {
  $("error-close").addEventListener("click", clearError);
}
