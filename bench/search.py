#!/usr/bin/env python3
"""search.py: how fast the HTML view's search answers for a big account, in real Chromium.

Writes the HTML view of a generated account (default 100,000 photos in 1,000 albums, with
titles, descriptions and tags drawn from word lists) with flickrmirrorer's own
write_html_view, then opens html/search.html?q=WORD from disk in headless Chromium
(Debian's /usr/bin/chromium, driven by Playwright) for a few queries and prints:

  * the size of html/search-index.js and the time to write the whole view;
  * per query: the number of matches, the time to first result (from opening the page to
    the results drawn: loading and parsing the index included) and the time of a search
    typed into the open page (the scan alone).

Each query is measured --repeat times (a fresh page each time); the median is printed.

    python bench/search.py                      # 100,000 photos (about a minute)
    python bench/search.py --photos 20000 --repeat 5

Target: the first result within a second at 100,000 photos.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import flickrmirrorer as fm  # noqa: E402

CHROMIUM = '/usr/bin/chromium'
WORDS = ('sunset harbour town granny birthday snow market cat bridge forest walk cafe mountains '
         'beach river lake kingfisher heron tram station garden rain fog night street dog '
         'wedding party concert museum castle island ferry boat tulip autumn winter spring '
         'summer glacier desert canyon waterfall meadow village').split()
TAGS = ('travel family bw macro street holiday zurich newyork nature portrait landscape '
        'architecture food friends film analog iphone drone').split()


def generate(n_photos, n_albums, seed=1):
    rng = random.Random(seed)
    photos = []
    for i in range(n_photos):
        title = ' '.join(rng.sample(WORDS, rng.randint(1, 3))).capitalize()
        description = '' if rng.random() < 0.6 else 'A <b>%s</b> near the %s, %d' % (
            rng.choice(WORDS), rng.choice(WORDS), 2000 + rng.randrange(24))
        photos.append({'id': str(5_000_000_000 + i), 'file': None, 'media': 'photo', 'title': title,
                       'description': description, 'datetaken': '', 'tags': rng.sample(TAGS, rng.randint(0, 4))})
    per_album = max(1, n_photos // n_albums)
    albums = [{'id': str(72157000000000 + a), 'title': '%s %d' % (rng.choice(WORDS).capitalize(), a),
               'description': '', 'primary': None,
               'photo_ids': [p['id'] for p in photos[a * per_album:(a + 1) * per_album]]}
              for a in range(n_albums)]
    return photos, albums


def measure(page_factory, uri, query, repeat):
    first, scan, matches = [], [], None
    for _ in range(repeat):
        page = page_factory()
        page.goto('%s?q=%s' % (uri, query))
        page.locator('body[data-shown-at-ms]').wait_for()
        first.append(float(page.locator('body').get_attribute('data-shown-at-ms')))
        matches = page.locator('#status').inner_text()
        # The scan alone: type the query again into the open page.
        page.evaluate('() => document.body.removeAttribute("data-search-ms")')
        page.fill('#q', query + ' ')
        page.locator('body[data-search-ms]').wait_for()
        scan.append(float(page.locator('body').get_attribute('data-search-ms')))
        page.close()
    return matches, statistics.median(first), statistics.median(scan)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--photos', type=int, default=100_000)
    parser.add_argument('--albums', type=int, default=1000)
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    photos, albums = generate(args.photos, args.albums)
    with tempfile.TemporaryDirectory() as dest:
        started = time.monotonic()
        fm.write_html_view(dest, photos, albums, [])
        written = time.monotonic() - started
        index = os.path.join(dest, fm.HTML_DIR, fm.SEARCH_INDEX)
        print('%d photos, %d albums: HTML view written in %.1f s; search-index.js %.1f MB'
              % (args.photos, args.albums, written, os.path.getsize(index) / 1e6))
        uri = 'file://' + os.path.join(dest, fm.HTML_DIR, fm.SEARCH_PAGE)
        queries = ['kingfisher', 'zurich', 'cafe%20bridge', TAGS[3], 'nothingmatchesthis']
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=['--no-sandbox', '--disable-gpu'])
            try:
                context = browser.new_context(viewport={'width': 1280, 'height': 900})
                print('| query | matches | first result (open page, load index, search, draw) | typed search (scan) |')
                print('| --- | --- | --- | --- |')
                for query in queries:
                    matches, first, scan = measure(context.new_page, uri, query, args.repeat)
                    print('| `%s` | %s | %.0f ms | %.0f ms |' % (query.replace('%20', ' '), matches, first, scan))
            finally:
                browser.close()


if __name__ == '__main__':
    main()
