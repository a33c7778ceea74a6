// Lazy images. Presigned object-store URLs go straight into <img loading="lazy">; URLs of the labeling
// API itself need the bearer token, which an <img> cannot send, so those are fetched when the image
// scrolls into view and shown from a blob URL (revoked when the image leaves the page).

import { token } from "./api.js";

const needsToken = (url) => new URL(url, window.location.origin).origin === window.location.origin;

async function fetchIntoImage(img) {
  const url = img.dataset.src;
  try {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token.get()}` } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const blobUrl = URL.createObjectURL(await response.blob());
    if (img.dataset.src !== url) return URL.revokeObjectURL(blobUrl); // replaced meanwhile
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = blobUrl;
  } catch (err) {
    markBroken(img, err.message);
  }
}

function markBroken(img, why) {
  img.classList.add("broken");
  img.alt = `${img.alt || "image"} (not loaded: ${why})`;
}

const observer =
  "IntersectionObserver" in window
    ? new IntersectionObserver(
        (entries) => {
          for (const entry of entries) {
            if (!entry.isIntersecting) continue;
            observer.unobserve(entry.target);
            fetchIntoImage(entry.target);
          }
        },
        { rootMargin: "200px" },
      )
    : null;

/** An <img> that loads `url` only when it comes near the viewport. */
export function lazyImage(url, alt, className) {
  if (!url) {
    // An empty cluster has no montage: a quiet placeholder, not a broken image.
    const placeholder = document.createElement("span");
    placeholder.className = `${className || ""} placeholder`;
    placeholder.textContent = alt;
    return placeholder;
  }
  const img = document.createElement("img");
  img.alt = alt;
  img.decoding = "async";
  if (className) img.className = className;
  img.addEventListener("error", () => markBroken(img, "failed"), { once: true });
  if (needsToken(url)) {
    img.dataset.src = url;
    if (observer) observer.observe(img);
    else fetchIntoImage(img);
  } else {
    img.loading = "lazy";
    img.src = url;
  }
  return img;
}

/** Frees the blob URLs of the images inside `root` before it is emptied. */
export function releaseImages(root) {
  for (const img of root.querySelectorAll("img")) {
    if (observer) observer.unobserve(img);
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  }
}
