"""The course website (site/, built by `make site`) in a real browser: Debian's chromium, Playwright.

`make site-test` builds the site and runs this file (with COURSE_SITE_TEST=1; under `make widgets`
it is skipped, since that target does not build the site). site/ is served on 127.0.0.1 and every
page is opened at a 1280-px window; for each page:
  - no console error, no page error, no failed request and no answer >= 400;
  - every request the page makes goes to the local server (each one is recorded);
  - MathJax typeset every equation: each Sphinx math element holds MathJax's output, and no raw
    \\( or \\[ is left in the text outside code;
  - every saved widget shows its view (the html-manager drew something for each view in the
    page), and each course widget's output area shows its static default figure or table;
  - a notebook page's "Open in Colab" link is the Colab address of its lecture at this version's
    tag on REPOSITORY (utils/tools/colab.py), and "download .ipynb" fetches the lecture itself;
  - in the self-study edition, one folded "show solution" block per exercise cell and model
    answer of the notebook, closed until clicked.
Screenshots: results/site/<page>.png (the top of the page) and <page>-widget.png (its first
course widget); the table of all pages: results/site/pages.json, printed at the end.
"""
import functools
import http.server
import json
import os
import re
import threading
from pathlib import Path

import pytest

from utils.tools import colab
from utils.tools.site import EDITIONS
from utils.tools.notebooks import BEGIN_SOLUTION, LECTURES_DIR, solution_notebooks

REPO_ROOT = Path(__file__).resolve().parents[1]
SITE = REPO_ROOT / "site"
RESULTS = REPO_ROOT / "results" / "site"
VIEWPORT = {"width": 1280, "height": 1000}
NOTEBOOKS = [path.stem for path in solution_notebooks()]
PAGES = ["index", "students", "teachers", "search", "genindex"] + NOTEBOOKS
TABLE = []   # one row per page, written to results/site/pages.json by the last test

pytestmark = pytest.mark.skipif(os.environ.get("COURSE_SITE_TEST") != "1",
                                reason="the website is tested by `make site-test`, which builds it first")

JS_MATH = r"""async () => {
  const maths = [...document.querySelectorAll('.math')];
  // MathJax loads deferred: wait (at most 20 s) until it has started, then until it has typeset
  for (let waited = 0; maths.length && !(window.MathJax && MathJax.version) && waited < 20000; waited += 100)
    await new Promise(resolve => setTimeout(resolve, 100));
  if (maths.length && window.MathJax && MathJax.startup && MathJax.startup.promise)
    await MathJax.startup.promise;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let raw = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest('pre, code, script, style, mjx-container, textarea')) continue;
    if (/\\\(|\\\[/.test(node.textContent)) raw.push(node.textContent.slice(0, 80));
  }
  return {math: maths.length, typeset: maths.filter(m => m.querySelector('mjx-container')).length,
          containers: document.querySelectorAll('mjx-container').length, raw: raw};
}"""

JS_WIDGETS = r"""async () => {
  const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
  const isShown = v => {
    const area = v.previousElementSibling;
    return area && area.classList.contains('widget-subarea') && area.querySelector('.jupyter-widgets');
  };
  // the html-manager draws the views after the page has loaded: wait (at most 20 s) for all of them
  for (let waited = 0; views.some(v => !isShown(v)) && waited < 20000; waited += 100)
    await new Promise(resolve => setTimeout(resolve, 100));
  await new Promise(resolve => setTimeout(resolve, 300));   // their images decode
  const shown = views.filter(isShown);
  const outputs = [...document.querySelectorAll('.widget-subarea .widget-output')];
  // a figure (an image that loaded) or an HTML display with visible text (05's cell widget)
  const drawn = outputs.filter(o => [...o.querySelectorAll('img')].some(i => i.complete && i.naturalWidth > 0)
                                    || (o.querySelector('.output_html, .jp-RenderedHTMLCommon')
                                        && o.innerText.trim().length > 0 && o.offsetHeight > 0));
  return {views: views.length, shown: shown.length, outputs: outputs.length, drawn: drawn.length};
}"""

JS_IMAGES = r"""() => [...document.images].map(i => ({src: i.getAttribute('src'), alt: i.getAttribute('alt') || '',
                                                      loaded: i.complete && i.naturalWidth > 0}))"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site_url():
    """site/ served on 127.0.0.1 for the session."""
    if not (SITE / "index.html").exists():
        pytest.fail("site/ is not built: run `make site-test` (or `make site` first)")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def settings():
    return json.loads((SITE / "_static" / "course_site.json").read_text())


def _expected_folds(notebook, edition):
    """Exercise cells and model answers of a notebook: the folded blocks its page must have."""
    if edition != "self-study":
        return 0
    cells = json.loads((REPO_ROOT / "solutions" / f"{notebook}.ipynb").read_text())["cells"]
    # a code cell's whole solution is folded once; each model answer of a markdown cell is folded
    return sum(min(1, "".join(c["source"]).count(BEGIN_SOLUTION)) if c["cell_type"] == "code"
               else "".join(c["source"]).count(BEGIN_SOLUTION) for c in cells)


def test_every_page_is_built():
    assert sorted(p.stem for p in SITE.glob("*.html")) == sorted(PAGES)
    assert sorted(p.name for p in (SITE / "notebooks").glob("*.ipynb")) == [f"{n}.ipynb" for n in NOTEBOOKS]


@pytest.mark.parametrize("name", PAGES)
def test_page(name, browser, site_url, settings):
    RESULTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    requests, problems = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
    try:
        page.goto(f"{site_url}/{name}.html", wait_until="networkidle")
        math = page.evaluate(JS_MATH)
        page.wait_for_load_state("networkidle")
        widgets = page.evaluate(JS_WIDGETS)
        images = page.evaluate(JS_IMAGES)
        page.screenshot(path=str(RESULTS / f"{name}.png"))
        row = {"page": f"{name}.html", "requests": len(requests),
               "outside_localhost": sorted({u for u in requests if not u.startswith(site_url + "/")
                                            and not u.startswith(("data:", "blob:"))}),
               "math": math["math"], "typeset": math["typeset"], "raw_tex": math["raw"],
               "images": len(images), "images_loaded": sum(i["loaded"] for i in images),
               # nbsphinx writes the image's path as its alt when the output has none
               "images_with_alt": sum(bool(i["alt"]) and i["alt"] != i["src"] for i in images),
               **{f"widget_{k}": v for k, v in widgets.items()}, "problems": problems}
        if widgets["outputs"]:
            box = page.locator(".widget-subarea:has(.widget-output)").first
            box.scroll_into_view_if_needed()
            box.screenshot(path=str(RESULTS / f"{name}-widget.png"))
            row["widget_screenshot"] = f"results/site/{name}-widget.png"
        if name in NOTEBOOKS:
            row.update(_check_notebook_page(page, name, settings))
        TABLE.append(row)
    finally:
        context.close()

    assert not problems, f"{name}: " + "; ".join(problems)
    assert not row["outside_localhost"], f"{name}: requests to other hosts: {row['outside_localhost']}"
    assert math["typeset"] == math["math"], f"{name}: {math['math'] - math['typeset']} equations not typeset"
    assert not math["raw"], f"{name}: raw TeX left in the text: {math['raw'][:3]}"
    assert row["images_loaded"] == row["images"], f"{name}: an image did not load"
    assert row["images_with_alt"] == row["images"], \
        f"{name}: {row['images'] - row['images_with_alt']} of {row['images']} images without alt text " \
        "(show figures with utils.viz.figure.show(fig, alt))"
    assert widgets["shown"] == widgets["views"], f"{name}: {widgets['views'] - widgets['shown']} saved widgets not shown"
    assert widgets["drawn"] == widgets["outputs"], \
        f"{name}: {widgets['outputs'] - widgets['drawn']} widget outputs without their figure"
    if name in NOTEBOOKS:
        assert math["math"] > 0 and math["containers"] > 0, f"{name}: a notebook page without typeset maths"
        saved = json.loads((EDITIONS[settings["edition"]][0] / f"{name}.ipynb").read_text())
        expected_views = sum("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                             for c in saved["cells"] for o in c.get("outputs", []))
        assert widgets["views"] == expected_views, f"{name}: {widgets['views']} widget views, the notebook has {expected_views}"
        assert row["colab_ok"], f"{name}: Colab link {row['colab']!r}"
        assert row["download_ok"], f"{name}: download link {row['download']!r} is not lectures/{name}.ipynb"
        assert row["folds"] == row["folds_expected"], f"{name}: {row['folds']} folded solutions, expected {row['folds_expected']}"
        assert row["folds_closed"], f"{name}: a solution is open before it is clicked"
        assert row["fold_opens"], f"{name}: clicking 'show solution' does not show the solution"


def _check_notebook_page(page, name, settings):
    """The links and folded solutions of a notebook page."""
    colab_href = page.get_attribute("a.course-colab", "href")
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?/?", settings["repository"])
    expected = (f"https://colab.research.google.com/github/{match[1]}/blob/{colab.tag()}/lectures/{name}.ipynb"
                if match else None)
    download_href = page.get_attribute("a.course-download", "href")
    response = page.request.get(page.url.rsplit("/", 1)[0] + "/" + download_href)
    lecture = (LECTURES_DIR / f"{name}.ipynb").read_bytes()
    folds = page.locator("details.course-solution")
    count = folds.count()
    closed = all(not folds.nth(i).evaluate("d => d.open") for i in range(count))
    opens = True
    if count:
        first = folds.first
        first.locator("summary").click()
        opens = first.evaluate("d => d.open && d.querySelector('summary').nextElementSibling.offsetHeight > 0")
    return {"colab": colab_href, "colab_ok": colab_href == expected and (LECTURES_DIR / f"{name}.ipynb").exists(),
            "download": download_href, "download_ok": response.status == 200 and response.body() == lecture,
            "folds": count, "folds_expected": _expected_folds(name, settings["edition"]),
            "folds_closed": closed, "fold_opens": opens}


def test_zz_table(tools, capsys):
    """The table of every page (after the page tests): printed, and saved to results/site/pages.json."""
    assert TABLE, "no page was opened"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pages.json").write_text(json.dumps(TABLE, indent=1) + "\n")
    lines = ["| page | requests (outside localhost) | equations typeset | images with alt / images "
             "| widgets shown / saved views | widget figures shown | problems |", "|" + " --- |" * 7]
    for r in TABLE:
        lines.append(f"| {r['page']} | {r['requests']} ({len(r['outside_localhost'])}) | {r['typeset']}/{r['math']} "
                     f"| {r['images_with_alt']}/{r['images']} | {r['widget_shown']}/{r['widget_views']} "
                     f"| {r['widget_drawn']}/{r['widget_outputs']} | {len(r['problems'])} |")
    with capsys.disabled():
        print("\n" + "\n".join(lines))


def test_the_student_edition_holds_no_solution_text(tmp_path, settings):
    """`make site EDITION=student`: the release's leak scan finds no statement run of any
    exercise's reference in any file of the site (pages, _sources, copied notebooks); the same
    scan finds them in the self-study edition, whose solutions are folded into the pages."""
    from utils.tools.release_leaks import statement_leaks  # here: only this test needs the leak scan
    from utils.tools.site import build  # here: likewise the build of a second edition
    if settings["edition"] == "self-study":
        assert any(".html" in line for line in statement_leaks(SITE, "00"))
    build("student", out_dir=tmp_path / "site", stage_dir=tmp_path / "stage")
    assert statement_leaks(tmp_path / "site", "00") == []
