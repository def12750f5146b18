"""Build the course website, site/, from the notebooks with their stored outputs (no kernel runs).

    python -m utils.tools.site                       # the self-study edition (make site)
    python -m utils.tools.site --edition student     # make site EDITION=student (see EDITIONS)

Everything the pages load is copied into the site: require.js, ipywidgets' html-manager (which
draws the widgets from the state saved in each notebook) and MathJax come from
site_src/node_modules (pinned by site_src/package-lock.json, installed by `make site`), Sphinx,
nbsphinx and pandoc from requirements-site.txt. The build reads no network and runs no notebook.

What it writes, in a staging folder (build/site/<edition>/) that Sphinx then turns into site/:
- index: the course map: the notebooks in order, what each one builds (notebook 00's map), its
  study time, its runtime in results/report.json and the notebooks to read first (PREREQUISITES);
- one page per notebook, opening with an "Open in Colab" link to its lecture (on the repository
  whose address is REPOSITORY in utils/tools/colab.py, at this version's tag) and a "download
  .ipynb" link to the lecture copied into site/notebooks/. In the self-study edition each
  exercise cell shows what the lecture shows (``# YOUR CODE HERE``) with the whole solution cell
  folded under it behind "show solution" (the solution lines marked), and each model answer is
  folded behind "show model answer";
- the README's sections for students and for teachers, one page each.
A figure output that carries alt text (``{"image/png": {"alt": ...}}`` in its output metadata, or
a text/plain that is not matplotlib's "<Figure size ...>") gets it as its image's alt on the page.
"""
import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

import utils
from utils.tools import colab
from utils.tools.build import strip_code, strip_markdown
from utils.tools.notebooks import (BEGIN_SOLUTION, END_SOLUTION, LECTURES_DIR, REPO_ROOT,
                                   SOLUTIONS_DIR, solution_notebooks)

SOURCE_DIR = REPO_ROOT / "site_src"          # conf.py, _static/, package.json and its lock file
NODE_MODULES = SOURCE_DIR / "node_modules"
STAGE_DIR = REPO_ROOT / "build" / "site"
OUT_DIR = REPO_ROOT / "site"
REPORT = REPO_ROOT / "results" / "report.json"
README = REPO_ROOT / "README.md"

# edition -> (where its notebooks come from, whether solutions are shown folded)
# The student edition holds no solution text in any file (pages, _sources, notebooks): make
# site-test scans it with the student release's leak scan (utils.tools.release_leaks.statement_leaks).
EDITIONS = {"self-study": (SOLUTIONS_DIR, True), "student": (LECTURES_DIR, False)}

# The notebooks to have done first: each builds on what these teach.
PREREQUISITES = {
    "00": [], "01": ["00"], "02": ["01"], "03": ["01", "02"], "04": ["03"], "05": ["04"],
    "06": ["02", "05"], "07": ["06"], "08": ["06", "07"],
}

# files copied from site_src/node_modules into _static/vendor/ (folders are copied whole)
VENDOR = {
    "require.js": "requirejs/require.js",
    "html-manager": "@jupyter-widgets/html-manager/dist",
    "mathjax/tex-chtml.js": "mathjax/es5/tex-chtml.js",
    "mathjax/input/tex/extensions": "mathjax/es5/input/tex/extensions",
    "mathjax/output/chtml": "mathjax/es5/output/chtml",
    "mathjax/ui": "mathjax/es5/ui",
}
HTML_MANAGER_FILES = re.compile(r"^(embed-amd\.js|[0-9a-f]{20}\.(woff2?|ttf|eot|svg))$")

README_SECTIONS = {"students": "## For students", "teachers": "## For teachers"}


class SiteError(Exception):
    """The site cannot be built (the message says why and what to do)."""


def colab_url(notebook):
    """The Colab address of lectures/<notebook> at this version's tag, from colab.REPOSITORY."""
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?/?", colab.REPOSITORY)
    if not match:
        raise SiteError(f"utils/tools/colab.py: REPOSITORY {colab.REPOSITORY!r} is not a GitHub "
                        "address (https://github.com/OWNER/NAME), which Colab needs")
    return f"https://colab.research.google.com/github/{match[1]}/blob/{colab.tag()}/lectures/{notebook}"


def repository_file_url(path):
    """The address of a repository file at this version's tag (for the README's relative links)."""
    return f"{colab.REPOSITORY.rstrip('/')}/blob/{colab.tag()}/{path}"


def course_map(welcome):
    """notebook 00's map: {"NN": {"topic", "builds", "study"}}, from its table."""
    for cell in welcome.cells:
        if cell.cell_type == "markdown" and "| notebook | topic |" in cell.source:
            rows = {}
            for line in cell.source.splitlines():
                parts = [p.strip() for p in line.strip().strip("|").split("|")]
                if len(parts) == 4 and re.fullmatch(r"\d\d", parts[0]):
                    rows[parts[0]] = {"topic": parts[1], "builds": parts[2], "study": parts[3]}
            return rows
    raise SiteError("notebook 00 has no course map table (| notebook | topic | ...)")


def _title(nb):
    first = next(c for c in nb.cells if c.cell_type == "markdown")
    return first.source.splitlines()[0].lstrip("#").strip()


def _solution_lines(source):
    """1-based numbers of the lines between the solution markers (the markers included)."""
    lines, inside = [], False
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip() == BEGIN_SOLUTION:
            inside = True
        if inside:
            lines.append(number)
        if line.strip() == END_SOLUTION:
            inside = False
    return lines


def _folded_solution(source):
    """The raw HTML of a code cell's solution: the whole cell, highlighted, folded."""
    from pygments import highlight  # here: the site's packages are installed for make site only
    from pygments.formatters import HtmlFormatter  # here: likewise
    from pygments.lexers import PythonLexer  # here: likewise
    code = highlight(source, PythonLexer(), HtmlFormatter(hl_lines=_solution_lines(source)))
    return ('<details class="course-solution"><summary>show solution</summary>\n'
            f'<div class="highlight-python notranslate">{code}</div>\n</details>')


def _folded_answer(source):
    """A markdown cell with each model answer folded behind "show model answer"."""
    out, inside = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN_SOLUTION:
            out += ["", '<details class="course-solution"><summary>show model answer</summary>', ""]
            inside = True
        elif line.strip() == END_SOLUTION:
            out += ["", "</details>", ""]
            inside = False
        else:
            out.append(line)
    return "\n".join(out)


def _links_cell(name):
    lecture = LECTURES_DIR / name
    if not lecture.exists():
        raise SiteError(f"lectures/{name} is missing: run make lectures")
    return nbformat.v4.new_raw_cell(
        '<p class="course-links">'
        f'<a class="course-colab" href="{html.escape(colab_url(name))}">Open in Colab</a> '
        f'<a class="course-download" href="notebooks/{name}" download>download .ipynb</a>'
        "</p>", metadata={"raw_mimetype": "text/html"})


def page_notebook(path, fold_solutions):
    """The notebook as its page shows it: the links first; solutions folded (self-study) or, in
    the student edition, the notebook as it is (it must hold no solution)."""
    nb = nbformat.read(path, as_version=4)
    cells = [_links_cell(path.name)]
    for index, cell in enumerate(nb.cells):
        where = f"{path.name}, cell {index}"
        has_solution = BEGIN_SOLUTION in cell.source
        if has_solution and not fold_solutions:
            raise SiteError(f"{where}: a solution in the {path.parent.name}/ notebooks of an "
                            "edition without solutions")
        if cell.cell_type == "code" and has_solution:
            full = cell.source
            cell.source, _ = strip_code(full, where)
            cells += [cell, nbformat.v4.new_raw_cell(_folded_solution(full),
                                                     metadata={"raw_mimetype": "text/html"})]
        elif cell.cell_type == "markdown" and has_solution:
            strip_markdown(cell.source, where)  # the same marker checks as the build
            cell.source = _folded_answer(cell.source)
            cells.append(cell)
        else:
            cells.append(cell)
    nb.cells = cells
    return nb


IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")


def image_alt_texts(nb, docname):
    """{image file nbsphinx writes: its alt text} for the figure outputs of a page notebook that
    carry one: the output's metadata {"image/png": {"alt": ...}}, else its text/plain when that is
    not matplotlib's "<Figure size ...>". nbsphinx names the files <docname>_<cell>_<output>."""
    texts = {}
    for c, cell in enumerate(nb.cells):
        o, previous = -1, {}
        for output in cell.get("outputs", []):
            # nbsphinx numbers outputs after merging consecutive streams of one name (nbconvert's
            # coalesce_streams), so a stream that continues the one before takes no number
            continues = output.get("output_type") == previous.get("output_type") == "stream" \
                and output.get("name") == previous.get("name")
            o, previous = o + (not continues), output
            data = output.get("data", {})
            for mime in IMAGE_TYPES:
                if mime in data:
                    alt = output.get("metadata", {}).get(mime, {}).get("alt") or data.get("text/plain", "")
                    alt = "".join(alt) if isinstance(alt, list) else alt
                    if alt and not alt.startswith("<Figure size"):
                        extension = {"image/svg+xml": "svg", "image/jpeg": "jpg"}.get(mime, "png")
                        texts[f"{docname}_{c}_{o}.{extension}"] = alt
    return texts


def _with_alt_texts(page, texts):
    """The HTML of a page with each figure's alt text (nbsphinx writes the file's path there)."""
    def replace(match):
        alt = texts.get(match["file"])
        return match[0] if alt is None else \
            f'<img alt="{html.escape(alt)}"{match["between"]} src="_images/{match["file"]}"'
    # nbsphinx may put a class between the two (an output with image metadata is not scaled)
    return re.sub(r'<img alt="[^"]*"(?P<between>[^>]*?) src="_images/(?P<file>[^"]+)"', replace, page)


def _rst_escape(text):
    """Markdown table text as reStructuredText: `code` becomes ``code``, the rest is escaped."""
    parts = re.split(r"`([^`]+)`", text)
    return "".join(f"``{part}``" if odd else re.sub(r"([*_`|\\])", r"\\\1", part)
                   for odd, part in ((i % 2, p) for i, p in enumerate(parts)))


def index_rst(notebooks, report):
    """The course map page (reStructuredText)."""
    welcome = nbformat.read(notebooks[0], as_version=4)
    rows = course_map(welcome)
    runtimes = {entry["notebook"]: entry for entry in report.get("notebooks", [])}
    title = "Recurrent neural networks: a notebook course"
    intro = README.read_text(encoding="utf-8").split("\n\n")[1].replace("\n", " ")
    lines = [title, "=" * len(title), "", _rst_escape(intro), "",
             f"Version {utils.__version__}. Read the notebooks in this order; each page shows a "
             "notebook with the outputs it printed on the course's reference machine. "
             "\"Open in Colab\" runs its lecture in Google Colab; \"download .ipynb\" saves it.", "",
             ".. list-table:: The course map",
             "   :header-rows: 1", "   :class: course-map", "",
             "   * - notebook", "     - what you build and see", "     - study time",
             f"     - runtime (``{report.get('command', 'make report')}``, {report.get('date', '?')}, "
             f"{report.get('machine', '?')})",
             "     - read first"]
    for path in notebooks:
        number = path.name[:2]
        if number not in rows or number not in PREREQUISITES:
            raise SiteError(f"{path.name}: not in notebook 00's course map or in PREREQUISITES "
                            "(utils/tools/site.py)")
        entry = runtimes.get(path.stem)
        runtime = f"{entry['seconds']:.0f} s ({entry['device']})" if entry else "not measured"
        before = ", ".join(f":doc:`{p} <{next(q.stem for q in notebooks if q.name[:2] == p)}>`"
                           for p in PREREQUISITES[number]) or "none"
        lines += [f"   * - :doc:`{number} · {_rst_escape(rows[number]['topic'])} <{path.stem}>`",
                  f"     - {_rst_escape(rows[number]['builds'])}",
                  f"     - {rows[number]['study']}", f"     - {runtime}", f"     - {before}"]
    lines += ["", "Runtimes: the whole solution notebook executed top to bottom by ``make report``; "
              "study times: notebook 00's suggestion for reading and doing the exercises.", "",
              ".. toctree::", "   :maxdepth: 1", "   :caption: Notebooks", ""]
    lines += [f"   {path.stem}" for path in notebooks]
    lines += ["", ".. toctree::", "   :maxdepth: 1", "   :caption: Using the course", ""]
    lines += [f"   {name}" for name in README_SECTIONS]
    return "\n".join(lines) + "\n"


def readme_section(heading):
    """One "## ..." section of the README as reStructuredText (relative links point at the
    repository)."""
    import pypandoc  # here: installed for make site only (requirements-site.txt)
    text = README.read_text(encoding="utf-8")
    start = text.find("\n" + heading) + 1   # the heading may go on: "## For students: doing ..."
    if start < 1:
        raise SiteError(f"README.md has no section {heading!r}")
    end = text.find("\n## ", start + len(heading))
    section = text[start:end if end > 0 else len(text)].replace("## ", "# ", 1)
    section = re.sub(r"\]\((?!https?://|#)([^)]+)\)", lambda m: f"]({repository_file_url(m[1])})", section)
    return pypandoc.convert_text(section, "rst", format="gfm", extra_args=["--wrap=none"])


def vendor(static):
    """Copy the pinned JavaScript (and its fonts) from site_src/node_modules into static/vendor."""
    if not (NODE_MODULES / ".package-lock.json").exists():
        raise SiteError(f"{NODE_MODULES.relative_to(REPO_ROOT)} is missing: `make site` installs it "
                        "with npm ci from site_src/package-lock.json (online, once)")
    for target, source in VENDOR.items():
        source, target = NODE_MODULES / source, static / "vendor" / target
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            if source.name == "dist":   # the html-manager: the AMD bundle and its fonts only
                target.mkdir(exist_ok=True)
                for file in source.iterdir():
                    if HTML_MANAGER_FILES.match(file.name):
                        shutil.copy2(file, target / file.name)
            else:
                shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)


def stage(edition, stage_dir):
    """Write the Sphinx source folder of an edition. Returns the notebook names it holds."""
    source_dir, fold = EDITIONS[edition]
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    shutil.copytree(SOURCE_DIR, stage_dir, ignore=shutil.ignore_patterns(
        "node_modules", "package*.json", "__pycache__"))
    vendor(stage_dir / "_static")
    notebooks = solution_notebooks(source_dir)
    if not notebooks:
        raise SiteError(f"no notebooks in {source_dir}")
    alt_texts = {}
    for path in notebooks:
        page = page_notebook(path, fold)
        nbformat.write(page, stage_dir / path.name)
        alt_texts[path.stem] = image_alt_texts(page, path.stem)
    (stage_dir / "alt_texts.json").write_text(json.dumps(alt_texts, indent=1) + "\n")
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    (stage_dir / "index.rst").write_text(index_rst(notebooks, report), encoding="utf-8")
    for name, heading in README_SECTIONS.items():
        (stage_dir / f"{name}.rst").write_text(readme_section(heading), encoding="utf-8")
    settings = {"edition": edition, "version": utils.__version__, "repository": colab.REPOSITORY}
    for where in (stage_dir, stage_dir / "_static"):   # conf.py reads it; the site keeps a copy
        (where / "course_site.json").write_text(json.dumps(settings, indent=1) + "\n")
    return [path.name for path in notebooks]


def build(edition="self-study", out_dir=OUT_DIR, stage_dir=None, jobs="auto"):
    """Build the site of an edition into out_dir (replaced). Returns the notebook names."""
    if edition not in EDITIONS:
        raise SiteError(f"unknown edition {edition!r}: one of {', '.join(EDITIONS)}")
    import pypandoc  # here: installed for make site only (requirements-site.txt)
    stage_dir = Path(stage_dir or STAGE_DIR / edition)
    out_dir = Path(out_dir)
    names = stage(edition, stage_dir)
    env = dict(os.environ, PATH=str(Path(pypandoc.get_pandoc_path()).parent) + os.pathsep
               + os.environ.get("PATH", ""))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", "-j", str(jobs),
                    "-W", "--keep-going", "-d", str(stage_dir / "_doctrees"),
                    str(stage_dir), str(out_dir)], check=True, env=env)
    alt_texts = json.loads((stage_dir / "alt_texts.json").read_text())
    for stem, texts in alt_texts.items():
        page = out_dir / f"{stem}.html"
        page.write_text(_with_alt_texts(page.read_text(encoding="utf-8"), texts), encoding="utf-8")
    for name in names:   # nbsphinx's copies of the page notebooks: the lectures replace them
        (out_dir / name).unlink(missing_ok=True)
    (out_dir / "notebooks").mkdir(exist_ok=True)
    for name in names:
        shutil.copy2(LECTURES_DIR / name, out_dir / "notebooks" / name)
    (out_dir / ".buildinfo").unlink(missing_ok=True)
    return names


def size_mb(folder):
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edition", default="self-study", choices=sorted(EDITIONS))
    parser.add_argument("--out", default=OUT_DIR, type=Path)
    parser.add_argument("--jobs", default="auto", help="Sphinx's -j (default: auto)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        names = build(args.edition, args.out, jobs=args.jobs)
    except (SiteError, subprocess.CalledProcessError) as exc:
        print(f"site not built: {exc}", file=sys.stderr)
        return 2
    pages = sorted(p.relative_to(args.out).as_posix() for p in args.out.glob("*.html"))
    print(f"{args.out.name}/: the {args.edition} edition, {len(names)} notebooks, {len(pages)} pages, "
          f"{size_mb(args.out):.1f} MB, built in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
