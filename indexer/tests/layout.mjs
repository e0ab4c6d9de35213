// Layout checks for the browser tests: what sticks out of the window or out of its own box.

// Runs in the page: the document's and every visible element's horizontal overflow, as
// {"document": {scrollWidth, clientWidth}, "outside": elements whose box crosses the window's left or
// right edge, "clipped": elements whose content is wider than their box}. Shapes inside an SVG are left
// out (the SVG clips them), and so is the text inside a form field (it scrolls by design); each element is named by its tag, id, classes and first characters of text.
export function overflow(page) {
  return page.evaluate(() => {
    const name = (el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}` +
      `${typeof el.className === "string" && el.className ? `.${el.className.trim().split(/\s+/).join(".")}` : ""}` +
      ` "${(el.textContent || "").trim().slice(0, 40)}"`;
    const width = document.documentElement.clientWidth;
    const outside = [];
    const clipped = [];
    for (const el of document.querySelectorAll("body *")) {
      if (el.closest("svg") && el.tagName.toLowerCase() !== "svg") continue;
      const box = el.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue;
      if (box.left < -0.5 || box.right > width + 0.5) outside.push(`${name(el)} [${box.left}, ${box.right}]`);
      const field = el.matches("input, textarea, select");
      if (!field && el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 && getComputedStyle(el).display !== "inline") {
        clipped.push(`${name(el)} ${el.scrollWidth} > ${el.clientWidth}`);
      }
    }
    return {
      document: { scrollWidth: document.documentElement.scrollWidth, clientWidth: width },
      outside, clipped,
    };
  });
}
