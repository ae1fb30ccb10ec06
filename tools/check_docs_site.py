#!/usr/bin/env python3
"""Checks the built Doxygen site the way a reader meets it: offline, from file://.

Usage: tools/check_docs_site.py <build>/docs/html

- every lesson page (index.html and each page listed in pages.html) loads in headless
  Chromium with the network shut off (every host resolves to nothing, a dead proxy), and no
  page pulls a script, style sheet or image from the network;
- its formulas are typeset: after the scripts ran, the DOM holds one MathJax element per
  formula of the page and no raw TeX is left in the text (\\( \\[ $$ or a TeX command);
- every image of a lesson page loads: the file it names exists in the site, is not empty
  and is a PNG (or an SVG);
- no link inside the site is broken: every relative href/src of every page of the site names
  a file of the site, and a #fragment into a lesson page names an anchor of that page.

Exit 0 when all hold, 1 with one line per problem otherwise, 77 (ctest's "skipped") when the
site is not built or Chromium is missing, unless HALFWAY_CHECK_DOCS=1 (CI), which makes
those failures too.
"""
import concurrent.futures
import html.parser
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

SKIP = 77
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# TeX that MathJax should have consumed: delimiters, or a command with a brace argument.
FORMULA = re.compile(r"\\\(|\\\[|\\begin\{")
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\(?:frac|sqrt|mathrm|text|cdot|sum|left|right|operatorname)\b")


def skip_or_fail(message):
    required = os.environ.get("HALFWAY_CHECK_DOCS") == "1"
    print(("check_docs_site: " if required else "check_docs_site: skipped: ") + message, file=sys.stderr)
    sys.exit(1 if required else SKIP)


class Page(html.parser.HTMLParser):
    """The links, images, anchors and visible text of one HTML document."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs = []        # (tag, attribute, value)
        self.images = []
        self.anchors = set()
        self.mathjax = 0      # formulas MathJax typeset (its math/tex scripts)
        self.errors = 0       # MathJax's error boxes (a TeX error)
        self.text = []        # visible text outside code, scripts and styles
        self._open = []       # (tag, inside code/script/style) of the open elements

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.anchors.add(a[key])
        for key in ("href", "src"):
            if a.get(key) is not None:
                self.refs.append((tag, key, a[key]))
        if tag == "img" and a.get("src") is not None:
            self.images.append(a["src"])
        classes = (a.get("class") or "").split()
        if tag == "script" and (a.get("type") or "").startswith("math/tex"):
            self.mathjax += 1
        if "merror" in classes or "MathJax_Error" in classes:
            self.errors += 1
        if tag not in VOID:
            hidden = tag in ("script", "style", "code", "pre") or "fragment" in classes
            self._open.append((tag, hidden or self._hidden()))

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                break

    def _hidden(self):
        return bool(self._open) and self._open[-1][1]

    def handle_data(self, data):
        if not self._hidden():
            self.text.append(data)


def parse(text):
    p = Page()
    p.feed(text)
    return p


def local_target(site, page_path, value):
    """(file, fragment) a relative reference names, or None for an external/inline one."""
    url = urllib.parse.urlsplit(value)
    if url.scheme or url.netloc or value.startswith("javascript:"):
        return None
    path = urllib.parse.unquote(url.path)
    target = os.path.normpath(os.path.join(os.path.dirname(page_path), path)) if path else page_path
    return target, urllib.parse.unquote(url.fragment)


def dump_dom(chromium, path):
    """The DOM of file://path after its scripts ran, with no network."""
    with tempfile.TemporaryDirectory(prefix="halfway-chromium-") as profile:
        cmd = [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
               f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
               "--proxy-server=http://127.0.0.1:9", "--allow-file-access-from-files",
               "--virtual-time-budget=10000", "--dump-dom", "file://" + path]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout


def lesson_pages(site):
    pages = [os.path.join(site, "index.html")]
    index = os.path.join(site, "pages.html")
    if os.path.exists(index):
        with open(index, encoding="utf-8", errors="replace") as f:
            for tag, key, value in parse(f.read()).refs:
                t = local_target(site, index, value)
                if tag == "a" and t and t[0].endswith(".html") and t[0] not in pages and os.path.dirname(t[0]) == site \
                        and os.path.exists(t[0]):  # (a missing one: the link check says so)
                    pages.append(t[0])
    return pages


def check_lesson(chromium, site, path, problems):
    name = os.path.relpath(path, site)
    with open(path, encoding="utf-8", errors="replace") as f:
        source = parse(f.read())
    rc, dom_text = dump_dom(chromium, path)
    if rc != 0 or "</html>" not in dom_text or 'class="contents"' not in dom_text:
        problems.append(f"{name}: did not load in Chromium (exit {rc}, {len(dom_text)} bytes of DOM)")
        return
    dom = parse(dom_text)
    for tag, key, value in source.refs:
        if tag in ("script", "link", "img") and urllib.parse.urlsplit(value).scheme in ("http", "https"):
            problems.append(f"{name}: <{tag} {key}={value}> needs the network")
    # Doxygen writes a formula as its TeX between \( \) or \[ \] (or an environment).
    formulas = len(FORMULA.findall("".join(source.text)))
    if dom.mathjax < formulas:
        problems.append(f"{name}: {formulas} formulas, {dom.mathjax} typeset by MathJax")
    if dom.errors:
        problems.append(f"{name}: MathJax reports {dom.errors} TeX errors")
    for m in RAW_TEX.finditer("".join(dom.text)):
        text = "".join(dom.text)
        problems.append(f"{name}: raw TeX left in the text: ...{text[max(0, m.start() - 30):m.end() + 30]!r}...")
        break
    for src in dom.images:
        t = local_target(site, path, src)
        if t is None:
            problems.append(f"{name}: image {src} is not in the site")
            continue
        try:
            with open(t[0], "rb") as f:
                head = f.read(512)
        except OSError:
            problems.append(f"{name}: image {src} is missing")
            continue
        if t[0].endswith(".png") and not head.startswith(PNG_MAGIC):
            problems.append(f"{name}: image {src} is not a PNG")
        elif t[0].endswith(".svg") and b"<svg" not in head and b"<?xml" not in head:
            problems.append(f"{name}: image {src} is not an SVG")
        elif not head:
            problems.append(f"{name}: image {src} is empty")
    return formulas, len(dom.images)


def check_links(site, lessons, problems):
    """Every relative reference of every page names a file of the site; #fragments into a
    lesson page name one of its anchors."""
    anchors = {}
    for lesson in lessons:
        with open(lesson, encoding="utf-8", errors="replace") as f:
            anchors[lesson] = parse(f.read()).anchors
    count = 0
    for entry in sorted(os.listdir(site)):
        if not entry.endswith(".html"):
            continue
        path = os.path.join(site, entry)
        with open(path, encoding="utf-8", errors="replace") as f:
            page = parse(f.read())
        for tag, key, value in page.refs:
            t = local_target(site, path, value)
            if t is None:
                continue
            count += 1
            target, fragment = t
            if not os.path.exists(target):
                problems.append(f"{entry}: <{tag} {key}={value}>: no such file in the site")
            elif fragment and target in anchors and fragment not in anchors[target]:
                problems.append(f"{entry}: <{tag} {key}={value}>: no anchor #{fragment} there")
    return count


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    site = os.path.abspath(sys.argv[1])
    if not os.path.exists(os.path.join(site, "index.html")):
        skip_or_fail(f"expected the site at {site}/index.html, found none; build it with: cmake --build <build> --target docs")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        skip_or_fail("expected headless Chromium, found none; install it with: sudo apt-get install chromium")
    problems = []
    lessons = lesson_pages(site)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda p: check_lesson(chromium, site, p, problems), lessons))
    for path, r in zip(lessons, results):
        if r:
            print(f"check_docs_site: {os.path.relpath(path, site)}: loaded, {r[0]} formulas, {r[1]} images")
    links = check_links(site, lessons, problems)
    print(f"check_docs_site: {len(lessons)} lesson pages, {links} relative links in the site")
    for p in problems:
        print("check_docs_site: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
