"""Sphinx settings of the course website. `make site` (utils/tools/site.py) copies this folder into a
staging folder, adds the pages and course_site.json, and builds site/ from there: nothing here is
fetched from the network, and every script the pages load is served from the site itself."""
import json
from pathlib import Path

_site = json.loads((Path(__file__).parent / "course_site.json").read_text())

project = "Recurrent neural networks: a notebook course"
version = release = _site["version"]
copyright = (f"the RNN course authors · version {_site['version']}, {_site['edition']} edition · code MIT, text and "
             f"notebooks CC BY 4.0 · {_site['repository']}")
extensions = ["nbsphinx"]
exclude_patterns = ["_doctrees", "**.ipynb_checkpoints"]
suppress_warnings = ["misc.highlighting_failure"]

nbsphinx_execute = "never"              # the pages show the outputs stored in the notebooks
nbsphinx_requirejs_path = "vendor/require.js"          # relative: served from _static/
nbsphinx_requirejs_options = {}
nbsphinx_widgets_path = "vendor/html-manager/embed-amd.js"
mathjax_path = "vendor/mathjax/tex-chtml.js"

html_theme = "alabaster"
html_theme_options = {"description": f"version {_site['version']}", "show_powered_by": False,
                      "page_width": "1180px", "sidebar_width": "230px"}
html_title = project
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_js_files = ["widget_alt.js"]          # alt text for the figures of saved widgets
html_copy_source = False                # no _sources/: the notebooks are in notebooks/
html_show_sourcelink = False
mathjax_config_path = "mathjax_widgets.js"   # after nbsphinx's MathJax settings: a MathJax.Hub for the widgets
html_favicon = "_static/favicon.svg"
