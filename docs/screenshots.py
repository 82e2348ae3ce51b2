#!/usr/bin/env python3
"""screenshots.py: remake the README's screenshots of the HTML view (docs/html-*.png).

Writes the view of a small made-up account with flickrmirrorer's own write_html_view
(gradient pictures stand in for photos and their thumbnails), opens it from disk in
headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) and saves 1200x800
screenshots of the index, an album, a photo's page, a search, the map, the places, the
archive and the tags.

    python docs/screenshots.py
"""

import os
import random
import struct
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import flickrmirrorer as fm  # noqa: E402

CHROMIUM = '/usr/bin/chromium'
TITLES = ['Harbour at dawn', 'Old town', 'Granny\u2019s birthday', 'Snow on the bridge', 'Market day',
          'The cat, again', 'Forest walk', 'Caf\u00e9 Central', 'Mountains', 'Beach day', 'Z\u00fcrich tram',
          'Kingfisher', 'Fog on the river', 'Night street', 'Tulips', 'Ferry to \u00c6r\u00f8']
TAGS = ['travel', 'family', 'bw', 'summer', 'winter', 'river', 'birds', 'street', 'holiday']
PLACES = [  # (locality, region, country, latitude, longitude)
    ('\u00c6r\u00f8sk\u00f8bing', 'Syddanmark', 'Denmark', 54.8886, 10.4123),
    ('Z\u00fcrich', 'Z\u00fcrich', 'Switzerland', 47.3769, 8.5417),
    ('Reykjav\u00edk', 'Capital Region', 'Iceland', 64.1466, -21.9426),
    ('Kyoto', 'Kyoto Prefecture', 'Japan', 35.0116, 135.7681),
    ('Valpara\u00edso', 'Valpara\u00edso', 'Chile', -33.0472, -71.6127),
]


def gradient_png(width, height, hue):
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    base = [(hue * 37 + 40) % 256, (hue * 83 + 90) % 256, (hue * 131 + 160) % 256]
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            t = (x + y) * 255 // (width + height)
            rows += bytes(min(255, (c + t) // 2 + 30) for c in base)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(bytes(rows))) + chunk(b'IEND', b''))


def write(dest, rel, data):
    path = os.path.join(dest, *rel.split('/'))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)


def account(dest):
    rng = random.Random(4)
    photos, details = [], {}
    for i, title in enumerate(TITLES):
        pid = str(5001000000 + i)
        video = i == 5
        w, h = (640, 480) if i % 3 != 2 else (480, 640)
        original = 'photostream/%s.%s' % (pid, 'mp4' if video else 'png')
        write(dest, original, b'not a real video' if video else gradient_png(w, h, i))
        thumb = 'html/thumbs/%s-%012x.jpg' % (pid, i)
        write(dest, thumb, gradient_png(w // 2, h // 2, i))
        photos.append({'id': pid, 'file': original, 'thumb': thumb, 'media': 'video' if video else 'photo',
                       'title': title, 'datetaken': '%d-%02d-%02d 1%d:%02d:00' % (2023 - i % 4, i % 12 + 1, i + 3, i % 10, i * 3),
                       'datetakengranularity': '6' if i == 7 else '0',
                       'description': '' if i % 3 else 'Seen from the <b>old bridge</b>, early.\n'
                                                        'More on <a href="https://example.com/">my blog</a>.',
                       'tags': rng.sample(TAGS, rng.randint(1, 3))})
        locality, region, country, lat, lon = PLACES[0 if i < 9 else i % len(PLACES)]
        details[pid] = {'place_names': [locality, region, country], 'place': (country, region, locality),
                        'latitude': lat + i * 0.01, 'longitude': lon, 'url': 'https://www.flickr.com/photos/me/%s/' % pid,
                        'comments': [{'author': 'Ann', 'date': '2023-05-02 09:14 UTC', 'text': 'What <i>light</i>!'}]}
    ids = [p['id'] for p in photos]
    albums = [{'id': '72157001', 'title': 'Summer in Denmark', 'description': 'Two weeks on <b>\u00c6r\u00f8</b>.',
               'primary': ids[0], 'photo_ids': ids[:9]},
              {'id': '72157002', 'title': 'Birds', 'description': '', 'primary': ids[11], 'photo_ids': ids[9:14]},
              {'id': '72157003', 'title': 'Family', 'description': '', 'primary': ids[2], 'photo_ids': ids[2:6]}]
    collections = [{'id': '2634-1', 'title': 'Travels', 'description': '', 'album_ids': ['72157001'],
                    'children': [{'id': '2634-2', 'title': 'Nature', 'description': '',
                                  'album_ids': ['72157002'], 'children': []}]}]
    return photos, albums, collections, details


def galleries_and_groups(photos):
    """A gallery of yours and others' photos (others' are shown as text: the view never loads
    Flickr's images), and two groups."""
    ids = [p['id'] for p in photos]
    others = [('Kingfisher at the weir', 'Ann Larsen', 'Wonderful timing'),
              ('Old harbour, 1968', 'Harbour Museum', ''), ('Morning fog', 'jens_p', 'Lovely light')]
    gallery = [{'id': pid, 'title': '', 'owner': '', 'url': '', 'comment': comment}
               for pid, comment in ((ids[0], 'Where it started'), (ids[3], ''), (ids[12], ''))]
    gallery += [{'id': str(9001000000 + i), 'title': title, 'owner': owner,
                 'url': 'https://www.flickr.com/photos/someone/%d/' % (9001000000 + i), 'comment': comment}
                for i, (title, owner, comment) in enumerate(others)]
    return {'galleries': [{'id': '5001-72157101', 'title': 'Water and light',
                           'description': 'Harbours, rivers and <i>fog</i>, mine and others\u2019.',
                           'url': 'https://www.flickr.com/photos/me/galleries/72157101/', 'photos': gallery}],
            'groups': [{'id': '1234@N20', 'name': 'Birds of Denmark', 'url': 'https://www.flickr.com/groups/1234@N20/',
                        'photo_ids': ids[9:14]},
                       {'id': '5678@N21', 'name': 'Black and white', 'url': 'https://www.flickr.com/groups/5678@N21/',
                        'photo_ids': ids[2:4]}]}


def main():
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as dest:
        photos, albums, collections, details = account(dest)
        fm.write_html_view(dest, photos, albums, collections, details=details.get,
                           lists=galleries_and_groups(photos))
        shots = [('html-index.png', 'index.html'), ('html-album.png', 'html/album-72157001.html'),
                 ('html-photo.png', 'html/photo-%s.html' % photos[0]['id']),
                 ('html-search.png', 'html/search.html?q=bridge'), ('html-map.png', 'html/map.html'),
                 ('html-places.png', 'html/places.html'), ('html-archive.png', 'html/archive.html'),
                 ('html-tags.png', 'html/tags.html'), ('html-gallery.png', 'html/gallery-5001-72157101.html')]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=['--no-sandbox', '--disable-gpu'])
            try:
                page = browser.new_page(viewport={'width': 1200, 'height': 800})
                for name, rel in shots:
                    page.goto('file://' + os.path.join(dest, rel))
                    page.wait_for_load_state('load')
                    page.wait_for_timeout(300)
                    page.screenshot(path=os.path.join(HERE, name), full_page=name == 'html-photo.png')
                    print('wrote', os.path.join(HERE, name))
            finally:
                browser.close()


if __name__ == '__main__':
    main()
