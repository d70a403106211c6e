"""The report in a real browser: headless Chromium loads it and decodes every image."""

import re
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Appended to a copy of the report: once everything has loaded, draw every image; a figure is opaque
# throughout (matplotlib paints a white background), so a truncated or corrupt one shows as transparent rows at
# the bottom, or has no size. (Synchronous: headless Chromium dumps the page before promises settle.)
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const broken = images.filter((img) => {
    if (!img.complete || img.naturalWidth === 0) return true;
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    const bottom = context.getImageData(0, img.naturalHeight - 1, img.naturalWidth, 1).data;
    return bottom.some((value, k) => k % 4 === 3 && value < 255);
  });
  const out = document.createElement("pre");
  out.textContent = `images=${images.length} broken=${broken.length} [${broken.map((img) => img.alt).join(",")}]`;
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_the_report_loads_in_chromium_with_every_image_decoded(built, tmp_path):
    page = built.read_text()
    probed = tmp_path / "report.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
         "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r"images=(\d+) broken=(\d+) \[([^\]]*)\]", done.stdout)
    assert found, f"the page did not finish loading: {done.stderr[-2000:]}"
    images, broken, names = int(found[1]), int(found[2]), found[3]
    assert images == page.count("<img ") > 0
    assert broken == 0, f"images that did not decode: {names}"
