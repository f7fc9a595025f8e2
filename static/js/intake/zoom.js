// Photos open full size in an overlay; selecting the image zooms it (scroll to pan).
// Without this module the thumbnail links open the full image.

function overlay() {
  let dialog = document.querySelector("dialog.zoom");
  if (dialog) return dialog;
  dialog = document.createElement("dialog");
  dialog.className = "zoom";
  dialog.setAttribute("aria-label", "Photo");
  const bar = document.createElement("div");
  bar.className = "zoom-bar";
  const zoomButton = document.createElement("button");
  zoomButton.type = "button";
  zoomButton.className = "secondary";
  zoomButton.textContent = "Zoom";
  const close = document.createElement("button");
  close.type = "button";
  close.textContent = "Close";
  bar.append(zoomButton, close);
  const frame = document.createElement("div");
  frame.className = "zoom-frame";
  const image = document.createElement("img");
  image.alt = "";
  frame.append(image);
  dialog.append(bar, frame);
  document.body.append(dialog);
  const toggle = () => {
    image.classList.toggle("zoomed");
    zoomButton.textContent = image.classList.contains("zoomed") ? "Fit" : "Zoom";
  };
  image.addEventListener("click", toggle);
  zoomButton.addEventListener("click", toggle);
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    image.classList.remove("zoomed");
    image.removeAttribute("src");
  });
  return dialog;
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-zoom]");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
  event.preventDefault();
  const dialog = overlay();
  const image = dialog.querySelector("img");
  const thumb = link.querySelector("img");
  image.alt = thumb ? thumb.alt : "Photo";
  image.src = link.dataset.zoom;
  dialog.showModal();
});
